// The workloads a CutOver with quiescePods stops, described once (pure: no API calls here; the
// side effects are controller/migration/quiesce.ts). Each kind says where its pod template is, the
// merge patch that quiesces it and the one that puts it back. What a workload was before is kept on
// the workload itself, in MTC's preQuiesce* annotations next to the run that quiesced it, so a
// restore needs nothing but the cluster: not the controller's memory, not the DVM's status.
import type * as k8s from '@kubernetes/client-node';
import type { Obj } from '../cluster/objects.js';
import { ANNOTATION_PRE_QUIESCE_REPLICAS, ANNOTATION_PRE_QUIESCE_SUSPEND, ANNOTATION_QUIESCED_BY, LABEL_QUIESCE_DAEMONSET } from './labels.js';

export interface WorkloadRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface WorkloadKind {
  apiVersion: string;
  kind: string;
  /** Only some clusters serve it (DeploymentConfigs: OpenShift): a 404 on list means "none here". */
  optional?: boolean;
  podSpec(object: Obj): k8s.V1PodSpec | undefined;
  /** The merge patch that quiesces it, with the annotations that say how to undo it. */
  quiesce(object: Obj, runId: string): object;
  restore(object: Obj): object;
}

/** Kinds with spec.replicas: scaled to 0, the count before kept in preQuiesceReplicas. */
function scaledKind(apiVersion: string, kind: string, optional = false): WorkloadKind {
  return {
    apiVersion,
    kind,
    ...(optional ? { optional } : {}),
    podSpec: (object) => object.spec?.template?.spec,
    quiesce: (object, runId) => ({
      metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: runId, [ANNOTATION_PRE_QUIESCE_REPLICAS]: String(object.spec?.replicas ?? 1) } },
      spec: { replicas: 0 },
    }),
    restore: (object) => ({
      metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: null, [ANNOTATION_PRE_QUIESCE_REPLICAS]: null } },
      spec: { replicas: recordedReplicas(object) },
    }),
  };
}

function recordedReplicas(object: Obj): number {
  const recorded = Number(object.metadata?.annotations?.[ANNOTATION_PRE_QUIESCE_REPLICAS]);
  return Number.isInteger(recorded) && recorded >= 0 ? recorded : 1;
}

/** A DaemonSet has no replica count: it is kept off every node by a node selector no node carries. */
const daemonSetKind: WorkloadKind = {
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  podSpec: (object) => object.spec?.template?.spec,
  quiesce: (_object, runId) => ({
    metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: runId } },
    spec: { template: { spec: { nodeSelector: { [LABEL_QUIESCE_DAEMONSET]: 'true' } } } },
  }),
  restore: () => ({
    metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: null } },
    spec: { template: { spec: { nodeSelector: { [LABEL_QUIESCE_DAEMONSET]: null } } } },
  }),
};

/** A CronJob is suspended (running Jobs finish or are waited for: see waitForQuiesced). */
const cronJobKind: WorkloadKind = {
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  podSpec: (object) => object.spec?.jobTemplate?.spec?.template?.spec,
  quiesce: (object, runId) => ({
    metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: runId, [ANNOTATION_PRE_QUIESCE_SUSPEND]: String(object.spec?.suspend === true) } },
    spec: { suspend: true },
  }),
  restore: (object) => ({
    metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: null, [ANNOTATION_PRE_QUIESCE_SUSPEND]: null } },
    spec: { suspend: object.metadata?.annotations?.[ANNOTATION_PRE_QUIESCE_SUSPEND] === 'true' },
  }),
};

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  scaledKind('apps/v1', 'Deployment'),
  scaledKind('apps/v1', 'StatefulSet'),
  scaledKind('apps/v1', 'ReplicaSet'),
  scaledKind('apps.openshift.io/v1', 'DeploymentConfig', true),
  daemonSetKind,
  cronJobKind,
];

/** Whether a pod spec mounts one of the claims. */
export function mountsAny(podSpec: k8s.V1PodSpec | undefined, claims: ReadonlySet<string>): boolean {
  return (podSpec?.volumes ?? []).some((volume) => volume.persistentVolumeClaim !== undefined && claims.has(volume.persistentVolumeClaim.claimName));
}

/** A StatefulSet's own claims are named <template>-<statefulset>-<ordinal>. */
export function ownsClaimByTemplate(object: Obj, claims: ReadonlySet<string>): boolean {
  // Only StatefulSets have claim templates (and listed items carry no kind to check).
  const set = object.metadata?.name ?? '';
  const templates: Array<{ metadata?: { name?: string } }> = object.spec?.volumeClaimTemplates ?? [];
  return templates.some((template) =>
    [...claims].some((claim) => {
      const prefix = `${template.metadata?.name ?? ''}-${set}-`;
      return claim.startsWith(prefix) && /^\d+$/.test(claim.slice(prefix.length));
    }),
  );
}

/** A ReplicaSet a Deployment owns (or a pod template another controller owns) is quiesced through
 * its owner, which would otherwise scale it straight back. */
export function hasControllerOwner(object: Obj): boolean {
  return (object.metadata?.ownerReferences ?? []).some((owner: { controller?: boolean }) => owner.controller === true);
}

/** Whether this workload uses one of the claims: mounts it, or (a StatefulSet) created it. */
export function usesClaims(kind: WorkloadKind, object: Obj, claims: ReadonlySet<string>): boolean {
  return mountsAny(kind.podSpec(object), claims) || ownsClaimByTemplate(object, claims);
}

export function describeWorkloads(workloads: readonly WorkloadRef[]): string {
  return workloads.map((workload) => `${workload.kind} ${workload.namespace}/${workload.name}`).join(', ');
}
