// What exposing a server yields: where clients dial, and every name/IP the server certificate must
// carry for that to verify.
import type { Cluster } from '../cluster/connection.js';
import type { WriteCounter } from '../cluster/write-counter.js';
import type { ControllerSettings } from '../config/settings.js';
import type { EndpointAddress } from '../manifests/agent-config.js';

export interface ResolvedEndpoint extends EndpointAddress {
  dnsNames: string[];
  ipAddresses: string[];
}

export interface EndpointContext {
  cluster: Cluster;
  runId: string;
  settings: ControllerSettings;
  writes: WriteCounter;
  scope: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The cluster's apps domain, resolved in preflight for Routes. */
  routeSubdomain?: string;
}

export function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}
