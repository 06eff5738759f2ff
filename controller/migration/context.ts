// Everything one run carries through its phases.
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/connection.js';
import type { WriteCounter } from '../cluster/write-counter.js';
import type { ControllerSettings } from '../config/settings.js';
import type { MigrationSpec } from '../config/spec.js';
import type { TransferPlan } from '../manifests/plan.js';
import type { SourcePvcInfo } from '../manifests/pvc.js';
import type { EventSink } from './events.js';

export interface Clusters {
  source: Cluster;
  destination: Cluster;
}

export interface RunContext {
  runId: string;
  spec: MigrationSpec;
  settings: ControllerSettings;
  plan: TransferPlan;
  clusters: Clusters;
  writes: WriteCounter;
  emit: EventSink;
  log: Logger;
  signal: AbortSignal;
  timeoutMs: number;
}

/** What preflight learned, read-only, before anything was created. */
export interface Preflight {
  sourcePvcs: Record<string, SourcePvcInfo>;
  /** Source "namespace/name" -> node to pin the client to. */
  nodePins: Record<string, string>;
  routeSubdomain?: string;
  /** Destination namespaces that do not exist yet (created only with createDestinationNamespaces). */
  missingNamespaces: string[];
}
