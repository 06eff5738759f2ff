// Every label dvm puts on an object, defined once (docs/contracts.md). NetworkPolicies and cleanup select on
// these, so nothing else may spell them.
import { withHash } from './names.js';

export const LABEL_APP = 'app';
export const LABEL_OWNER = 'owner';
export const LABEL_RUN = 'directvolumemigration';
export const LABEL_PURPOSE = 'purpose';
export const LABEL_CREATED_FOR_PVC = 'migration.openshift.io/created-for-pvc';
export const LABEL_RSYNC_ATTEMPT = 'migration.openshift.io/rsync-attempt';

export const APP_VALUE = 'directvolumemigration-rsync-transfer';
export const OWNER_VALUE = 'directvolumemigration';
export const PURPOSE_RSYNC = 'rsync';

/** Annotations on the objects we create but keep (destination namespaces and PVCs). */
export const ANNOTATION_CREATED_BY_RUN = 'migration.openshift.io/dvm-created-by-run';
export const ANNOTATION_SOURCE_PVC = 'migration.openshift.io/dvm-source-pvc';

/** On a workload a CutOver quiesced (MTC's names for the values to restore), and the run that did it. */
export const ANNOTATION_QUIESCED_BY = 'migration.openshift.io/dvm-quiesced-by';
export const ANNOTATION_PRE_QUIESCE_REPLICAS = 'migration.openshift.io/preQuiesceReplicas';
export const ANNOTATION_PRE_QUIESCE_SUSPEND = 'migration.openshift.io/preQuiesceSuspend';
/** A DaemonSet is quiesced by a node selector no node carries. */
export const LABEL_QUIESCE_DAEMONSET = 'migration.openshift.io/quiesce-daemonset';
/** Set to "true" on a DirectVolumeMigration: restore what its CutOver quiesced. */
export const ANNOTATION_UNQUIESCE = 'migration.openshift.io/dvm-unquiesce';

/** What `dvm controller` puts on the resources it reconciles and creates. */
export const FINALIZER_DVM = 'migration.openshift.io/dvm-controller';
/** On each DirectVolumeMigrationProgress: the name of the DirectVolumeMigration it reports for. */
export const LABEL_DVM_NAME = 'migration.openshift.io/directvolumemigration-name';

export type Labels = Record<string, string>;

/** The two labels every dvm object carries, whatever the run: what NetworkPolicies select. */
export function ownerLabels(): Labels {
  return { [LABEL_APP]: APP_VALUE, [LABEL_OWNER]: OWNER_VALUE };
}

export function runLabels(runId: string): Labels {
  return { ...ownerLabels(), [LABEL_RUN]: runId };
}

export function serverLabels(runId: string): Labels {
  return { ...runLabels(runId), [LABEL_PURPOSE]: PURPOSE_RSYNC };
}

export function clientLabels(runId: string, pvcName: string, attempt: number): Labels {
  return { ...runLabels(runId), [LABEL_CREATED_FOR_PVC]: labelSafe(pvcName), [LABEL_RSYNC_ATTEMPT]: String(attempt) };
}

/** A label value: at most 63 characters, alphanumeric at both ends. Long names keep a hash suffix so
 * two long PVC names never collide. */
export function labelSafe(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (cleaned === value && value.length <= 63) return value;
  return withHash(cleaned || 'x', 63, value);
}

export function selector(labels: Labels): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export function runSelector(runId: string): string {
  return selector(runLabels(runId));
}

/** Objects of earlier runs: ours by owner and app, but another run id. */
export function staleSelector(runId: string): string {
  return `${selector(ownerLabels())},${LABEL_RUN},${LABEL_RUN}!=${runId}`;
}

/** A DirectVolumeMigrationProgress of one PVC of a DirectVolumeMigration (run id = the DVM's uid). */
export function progressLabels(runId: string, dvmName: string, pvcName: string): Labels {
  return { [LABEL_RUN]: runId, [LABEL_DVM_NAME]: labelSafe(dvmName), [LABEL_CREATED_FOR_PVC]: labelSafe(pvcName) };
}

export function progressSelector(dvmName: string): string {
  return `${LABEL_DVM_NAME}=${labelSafe(dvmName)}`;
}
