// The two custom resources `dvm controller` serves (deploy/crds/): their REST coordinates and the
// shapes of what it reads (a DirectVolumeMigration) and writes (both statuses). Field names are MTC's.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { WorkloadRef } from '../manifests/workloads.js';

export const MIGRATION_GROUP = 'migration.openshift.io';
export const MIGRATION_VERSION = 'v1alpha1';
export const MIGRATION_API_VERSION = `${MIGRATION_GROUP}/${MIGRATION_VERSION}`;

export const DVM_RESOURCE = { apiVersion: MIGRATION_API_VERSION, kind: 'DirectVolumeMigration', plural: 'directvolumemigrations' } as const;
export const DVMP_RESOURCE = { apiVersion: MIGRATION_API_VERSION, kind: 'DirectVolumeMigrationProgress', plural: 'directvolumemigrationprogresses' } as const;

/** The phases a DirectVolumeMigration goes through (status.phase), MTC's names where MTC has one:
 * the run's own phases map onto them in status-model.ts. Succeeded and Failed are final for the
 * generation they were reached with. */
export type DvmPhase =
  | 'Created'
  | 'Started'
  | 'Prepare'
  | 'CleanStaleRsyncResources'
  | 'QuiesceApplications'
  | 'WaitForApplicationsQuiesced'
  | 'CreateDestinationPVCs'
  | 'CreateRsyncTransferPods'
  | 'RunRsyncOperations'
  | 'DeleteRsyncResources'
  | 'UnQuiesceApplications'
  | 'Succeeded'
  | 'Failed';

export const FINAL_PHASES: ReadonlySet<string> = new Set<DvmPhase>(['Succeeded', 'Failed']);

/** MTC's condition shape; category is one of Critical, Error, Warn, Required, Advisory. */
export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  category: 'Critical' | 'Error' | 'Warn' | 'Required' | 'Advisory';
  message?: string;
  durable?: boolean;
  lastTransitionTime?: string;
}

export interface ObjectRef {
  name: string;
  namespace: string;
}

/** MTC's PodProgress: one PVC's client pod and how far it got. */
export interface PodProgress {
  kind: 'Pod';
  name: string;
  namespace: string;
  pvcRef: ObjectRef;
  lastObservedProgressPercent?: string;
  lastObservedTransferRate?: string;
  totalElapsedTime?: string;
  message?: string;
}

export interface RsyncOperation {
  pvcReference: ObjectRef;
  currentAttempt: number;
  succeeded: boolean;
  failed: boolean;
}

export interface DvmStatus {
  observedGeneration?: number;
  phase?: DvmPhase;
  phaseDescription?: string;
  runId?: string;
  startTimestamp?: string;
  completionTimestamp?: string;
  errors?: string[];
  counts?: { total: number; pending: number; running: number; succeeded: number; failed: number };
  conditions?: Condition[];
  successfulPods?: PodProgress[];
  failedPods?: PodProgress[];
  runningPods?: PodProgress[];
  pendingPods?: PodProgress[];
  rsyncOperations?: RsyncOperation[];
  /** What a CutOver with quiescePods scaled down or suspended (and will restore on failure). */
  quiescedWorkloads?: WorkloadRef[];
}

export interface DirectVolumeMigration {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta & { name: string; namespace: string; uid: string };
  /** Unparsed: reconcile.ts parses it (dvm-spec.ts) and reports what it refuses as a condition. */
  spec?: Record<string, unknown>;
  status?: DvmStatus;
}

export interface DvmpStatus {
  phase: string;
  podPhase?: string;
  podName?: string;
  exitCode?: number;
  logMessage?: string;
  totalProgressPercentage: string;
  progressPercent: number;
  transferredBytes: number;
  totalBytes: number;
  files: number;
  filesTotal: number;
  lastObservedTransferRate: string;
  transferRateBytesPerSecond: number;
  etaSeconds?: number;
  rsyncElapsedTime: string;
  elapsedSeconds: number;
  attempt: number;
  maxAttempts: number;
  verified?: boolean;
  lastUpdateTime: string;
}

export function dvmKey(dvm: { metadata?: { namespace?: string; name?: string } }): string {
  return `${dvm.metadata?.namespace ?? ''}/${dvm.metadata?.name ?? ''}`;
}
