// Every label dvm puts on an object, defined once (docs/contracts.md). NetworkPolicies and cleanup select on
// these, so nothing else may spell them.
import { withHash } from './names.js';
import type { VolumeKind } from './volume-kind.js';

export const LABEL_APP = 'app';
export const LABEL_OWNER = 'owner';
export const LABEL_RUN = 'directvolumemigration';
export const LABEL_PURPOSE = 'purpose';
export const LABEL_CREATED_FOR_PVC = 'migration.openshift.io/created-for-pvc';
export const LABEL_RSYNC_ATTEMPT = 'migration.openshift.io/rsync-attempt';

export const APP_VALUE = 'directvolumemigration-rsync-transfer';
/** MTC's app label of the transfer pods (and their Services) of block volumes. */
export const APP_VALUE_BLOCK = 'directvolumemigration-rsync-transfer-block';
/** Every app value a transfer pod carries. */
export const APP_VALUES: readonly string[] = [APP_VALUE, APP_VALUE_BLOCK];
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

/** The two labels every dvm object carries, whatever the run. The app value is the file copy's on
 * everything but the transfer pods and Services of block volumes (MTC's separate block label):
 * selectors that must see both kinds select on the owner and the run, never on the app. */
export function ownerLabels(): Labels {
  return { [LABEL_APP]: APP_VALUE, [LABEL_OWNER]: OWNER_VALUE };
}

export function runLabels(runId: string): Labels {
  return { ...ownerLabels(), [LABEL_RUN]: runId };
}

function appValue(kind: VolumeKind): string {
  return kind === 'block' ? APP_VALUE_BLOCK : APP_VALUE;
}

/** A server pod and its Service (whose selector this is): one per destination namespace and kind. */
export function serverLabels(runId: string, kind: VolumeKind): Labels {
  return { ...runLabels(runId), [LABEL_APP]: appValue(kind), [LABEL_PURPOSE]: PURPOSE_RSYNC };
}

export function clientLabels(runId: string, pvcName: string, attempt: number, kind: VolumeKind): Labels {
  return { ...clientPodSelectorLabels(runId, pvcName), [LABEL_APP]: appValue(kind), [LABEL_RSYNC_ATTEMPT]: String(attempt) };
}

/** The client pods of one PVC, every attempt and either kind. */
export function clientPodSelectorLabels(runId: string, pvcName: string): Labels {
  return { [LABEL_OWNER]: OWNER_VALUE, [LABEL_RUN]: runId, [LABEL_CREATED_FOR_PVC]: labelSafe(pvcName) };
}

/** A pod of ours (either kind), not an application's: never quiesced, never a pin for a PVC. */
export function isTransferPodLabels(labels: Labels | undefined): boolean {
  return labels?.[LABEL_OWNER] === OWNER_VALUE && APP_VALUES.includes(labels[LABEL_APP] ?? '');
}

/** The transfer pods of every run and kind, as a NetworkPolicy podSelector. */
export function transferPodSelector(): { matchLabels: Labels; matchExpressions: Array<{ key: string; operator: 'In'; values: string[] }> } {
  return { matchLabels: { [LABEL_OWNER]: OWNER_VALUE }, matchExpressions: [{ key: LABEL_APP, operator: 'In', values: [...APP_VALUES] }] };
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

/** Every object of the run, either kind: the owner and the run label (not the app). */
export function runSelector(runId: string): string {
  return `${ownerSelector()},${LABEL_RUN}=${runId}`;
}

/** Every dvm object of any run. */
export function ownerSelector(): string {
  return `${LABEL_OWNER}=${OWNER_VALUE}`;
}

/** Objects of earlier runs: ours by owner, but another run id. */
export function staleSelector(runId: string): string {
  return `${ownerSelector()},${LABEL_RUN},${LABEL_RUN}!=${runId}`;
}

/** A DirectVolumeMigrationProgress of one PVC of a DirectVolumeMigration (run id = the DVM's uid). */
export function progressLabels(runId: string, dvmName: string, pvcName: string): Labels {
  return { [LABEL_RUN]: runId, [LABEL_DVM_NAME]: labelSafe(dvmName), [LABEL_CREATED_FOR_PVC]: labelSafe(pvcName) };
}

export function progressSelector(dvmName: string): string {
  return `${LABEL_DVM_NAME}=${labelSafe(dvmName)}`;
}
