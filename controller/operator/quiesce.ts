// Quiescing the applications that mount the source PVCs before a CutOver's final copy (MTC 1.7's
// quiescePods), and restoring them: Deployments, StatefulSets and standalone ReplicaSets to 0
// replicas, CronJobs suspended, DaemonSets behind a node selector no node carries. What a workload
// was is kept on the workload itself (MTC's preQuiesce* annotations, plus the DVM uid that did it),
// so a restore after a controller restart needs nothing but the cluster; quiescing again is a no-op
// for a workload already annotated (its recorded value is never overwritten with 0).
import * as k8s from '@kubernetes/client-node';
import type { Cluster } from '../cluster/connection.js';
import { listObjects, type Obj } from '../cluster/objects.js';
import { waitFor } from '../cluster/watch.js';
import { POD_KIND } from '../cluster/kinds.js';
import {
  ANNOTATION_PRE_QUIESCE_REPLICAS, ANNOTATION_PRE_QUIESCE_SUSPEND, ANNOTATION_QUIESCED_BY, LABEL_QUIESCE_DAEMONSET,
} from '../manifests/labels.js';

export interface WorkloadRef {
  kind: string;
  namespace: string;
  name: string;
}

interface WorkloadKind {
  apiVersion: string;
  kind: string;
  podSpec(object: Obj): k8s.V1PodSpec | undefined;
  /** The patch that quiesces it, with the annotations that say how to undo it. */
  quiesce(object: Obj, runId: string): object;
  restore(object: Obj): object;
}

const scaled = (apiVersion: string, kind: string): WorkloadKind => ({
  apiVersion,
  kind,
  podSpec: (object) => object.spec?.template?.spec,
  quiesce: (object, runId) => ({
    metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: runId, [ANNOTATION_PRE_QUIESCE_REPLICAS]: String(object.spec?.replicas ?? 1) } },
    spec: { replicas: 0 },
  }),
  restore: (object) => ({
    metadata: { annotations: { [ANNOTATION_QUIESCED_BY]: null, [ANNOTATION_PRE_QUIESCE_REPLICAS]: null } },
    spec: { replicas: Number(object.metadata?.annotations?.[ANNOTATION_PRE_QUIESCE_REPLICAS] ?? 1) },
  }),
});

const WORKLOAD_KINDS: WorkloadKind[] = [
  scaled('apps/v1', 'Deployment'),
  scaled('apps/v1', 'StatefulSet'),
  scaled('apps/v1', 'ReplicaSet'),
  {
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
  },
  {
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
  },
];

function mountsAny(podSpec: k8s.V1PodSpec | undefined, claims: ReadonlySet<string>): boolean {
  return (podSpec?.volumes ?? []).some((volume) => volume.persistentVolumeClaim !== undefined && claims.has(volume.persistentVolumeClaim.claimName));
}

/** A StatefulSet's own claims are named <template>-<statefulset>-<ordinal>. */
function claimsFromTemplates(object: Obj, claims: ReadonlySet<string>): boolean {
  if (object.kind !== 'StatefulSet') return false;
  const templates: Array<{ metadata?: { name?: string } }> = object.spec?.volumeClaimTemplates ?? [];
  return templates.some((template) => [...claims].some((claim) => new RegExp(`^${escape(template.metadata?.name ?? '')}-${escape(object.metadata?.name ?? '')}-\\d+$`).test(claim)));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A ReplicaSet a Deployment owns is quiesced through its Deployment (which would scale it back). */
function ownedByController(object: Obj): boolean {
  return (object.metadata?.ownerReferences ?? []).some((owner) => owner.controller === true);
}

async function patchWorkload(cluster: Cluster, kind: WorkloadKind, object: Obj, body: object): Promise<void> {
  await cluster.objects.patch({ apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name: object.metadata!.name!, namespace: object.metadata!.namespace! }, ...body },
    undefined, undefined, 'dvm-controller', undefined, k8s.PatchStrategy.MergePatch);
}

/** Quiesces every workload in the PVCs' namespaces that mounts one of them; returns all it holds
 * quiesced for this run (also those quiesced by an earlier pass). */
export async function quiesceWorkloads(cluster: Cluster, runId: string, pvcs: ReadonlyArray<{ namespace: string; name: string }>): Promise<WorkloadRef[]> {
  const quiesced: WorkloadRef[] = [];
  for (const namespace of [...new Set(pvcs.map((pvc) => pvc.namespace))]) {
    const claims = new Set(pvcs.filter((pvc) => pvc.namespace === namespace).map((pvc) => pvc.name));
    for (const kind of WORKLOAD_KINDS) {
      for (const object of (await listObjects(cluster, kind.apiVersion, kind.kind, namespace)).items) {
        if (ownedByController(object)) continue;
        if (!mountsAny(kind.podSpec(object), claims) && !claimsFromTemplates(object, claims)) continue;
        const by = object.metadata?.annotations?.[ANNOTATION_QUIESCED_BY];
        if (by === undefined) await patchWorkload(cluster, kind, object, kind.quiesce(object, runId));
        else if (by !== runId) continue;
        quiesced.push({ kind: kind.kind, namespace, name: object.metadata!.name! });
      }
    }
  }
  return quiesced;
}

/** Resolves once no pod in the PVCs' namespaces mounts one of them (pods that ended count as gone). */
export async function waitForQuiesced(cluster: Cluster, pvcs: ReadonlyArray<{ namespace: string; name: string }>, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  for (const namespace of [...new Set(pvcs.map((pvc) => pvc.namespace))]) {
    const claims = new Set(pvcs.filter((pvc) => pvc.namespace === namespace).map((pvc) => pvc.name));
    const users = (pods: Obj[]) => pods.filter((pod) => !['Succeeded', 'Failed'].includes(pod.status?.phase) && mountsAny(pod.spec, claims));
    await waitFor(cluster, { ...POD_KIND, namespace }, {
      check: (pods) => (users(pods).length === 0 ? true : undefined),
      timeoutMs,
      describeTimeout: (pods) => `pods still mount the source PVCs after quiescing: ${users(pods).map((pod) => `${namespace}/${pod.metadata?.name}`).join(', ')}`,
      ...(signal ? { signal } : {}),
    });
  }
}

/** Puts back every workload this run quiesced, in the given namespaces; returns what it restored. */
export async function restoreWorkloads(cluster: Cluster, runId: string, namespaces: readonly string[]): Promise<WorkloadRef[]> {
  const restored: WorkloadRef[] = [];
  for (const namespace of [...new Set(namespaces)]) {
    for (const kind of WORKLOAD_KINDS) {
      for (const object of (await listObjects(cluster, kind.apiVersion, kind.kind, namespace)).items) {
        if (object.metadata?.annotations?.[ANNOTATION_QUIESCED_BY] !== runId) continue;
        await patchWorkload(cluster, kind, object, kind.restore(object));
        restored.push({ kind: kind.kind, namespace, name: object.metadata!.name! });
      }
    }
  }
  return restored;
}
