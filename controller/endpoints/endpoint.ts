// One object per endpoint kind (Route, NodePort, ClusterIP, LoadBalancer): everything that differs
// between the ways clients reach a server is decided here, and nowhere else. `dvm render` and
// `dvm migrate` build the exposing objects from the same exposure(), so what render shows is what
// migrate creates.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Cluster } from '../cluster/connection.js';
import type { Obj } from '../cluster/objects.js';
import type { WriteCounter } from '../cluster/write-counter.js';
import type { ControllerSettings, EndpointType } from '../config/settings.js';
import type { EndpointAddress } from '../manifests/agent-config.js';
import type { ServerSite } from '../manifests/plan.js';

/** Where clients dial, and every name/IP the server certificate must carry for that to verify. */
export interface ResolvedEndpoint extends EndpointAddress {
  dnsNames: string[];
  ipAddresses: string[];
}

/** What preflight learned about the destination cluster for this kind (read-only). */
export interface EndpointFacts {
  /** The cluster's apps domain, for Routes. */
  routeSubdomain?: string;
}

export interface EndpointContext extends EndpointFacts {
  cluster: Cluster;
  runId: string;
  settings: ControllerSettings;
  writes: WriteCounter;
  scope: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface Endpoint {
  readonly type: EndpointType;
  /** Read-only, before anything exists: what this kind needs to know, or one line why it cannot work. */
  preflight(cluster: Cluster, settings: ControllerSettings): Promise<EndpointFacts>;
  /** Pure: the objects that expose a site's server (its Service, and a Route for Routes). */
  exposure(runId: string, site: ServerSite, facts: EndpointFacts): KubernetesObject[];
  /** Pure: the address clients would dial, as far as it is known without asking a cluster. */
  provisionalAddress(runId: string, site: ServerSite, facts: EndpointFacts): EndpointAddress;
  /** Once the exposure exists (as the cluster returned it): the address clients dial. */
  resolve(context: EndpointContext, site: ServerSite, created: Obj[]): Promise<ResolvedEndpoint>;
  /** Until the endpoint itself can carry traffic (a Route admitted by a router). */
  waitReady(context: EndpointContext, site: ServerSite): Promise<void>;
}

export function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

/** Stands in for an address only the cluster can give (render without clusters). */
export const PLACEHOLDER_HOST = 'resolved-at-run-time.invalid';
