// Quiescing the applications that use the source PVCs before a CutOver's copy (MTC 1.7's
// quiescePods), and putting them back (the kinds and their patches: manifests/workloads.ts).
//
// Quiescing is idempotent per run: a workload already annotated with this run id is counted as held
// and not patched again, so a restarted controller's second pass never overwrites the recorded
// replica count with 0. A workload another run quiesced is left alone (that run restores it).
// Restoring finds its workloads by the annotation alone, so it works after any restart.
import * as k8s from '@kubernetes/client-node';
import { isNotFound } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import { POD_KIND } from '../cluster/kinds.js';
import { listObjects, type Obj } from '../cluster/objects.js';
import { waitFor } from '../cluster/watch.js';
import type { WriteCounter } from '../cluster/write-counter.js';
import { ANNOTATION_QUIESCED_BY, isTransferPodLabels } from '../manifests/labels.js';
import { mountsAny, hasControllerOwner, usesClaims, WORKLOAD_KINDS, type WorkloadKind, type WorkloadRef } from '../manifests/workloads.js';

export interface ClaimRef {
  namespace: string;
  name: string;
}

/** Patches every workload in the PVCs' namespaces that uses one of them; returns every workload this
 * run holds quiesced (also those an earlier pass of the same run quiesced). */
export async function quiesceWorkloads(
  cluster: Cluster,
  runId: string,
  pvcs: readonly ClaimRef[],
  writes: WriteCounter,
  scope: string,
): Promise<WorkloadRef[]> {
  const held: WorkloadRef[] = [];
  for (const [namespace, claims] of claimsByNamespace(pvcs)) {
    for (const kind of WORKLOAD_KINDS) {
      for (const object of await listWorkloads(cluster, kind, namespace)) {
        if (hasControllerOwner(object) || !usesClaims(kind, object, claims)) continue;
        const by = object.metadata?.annotations?.[ANNOTATION_QUIESCED_BY];
        if (by !== undefined && by !== runId) continue;
        if (by === undefined) await patchWorkload(cluster, kind, object, kind.quiesce(object, runId), writes, scope);
        held.push(refOf(kind, object));
      }
    }
  }
  return held;
}

/** Resolves once no pod in the PVCs' namespaces but the migration's own mounts one of them (pods that
 * ended count as gone); a timeout names the pods still there. */
export async function waitForQuiesced(cluster: Cluster, pvcs: readonly ClaimRef[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  for (const [namespace, claims] of claimsByNamespace(pvcs)) {
    const users = (pods: Obj[]) => pods.filter((pod) => isRunningOrPending(pod) && !isTransferPodLabels(pod.metadata?.labels) && mountsAny(pod.spec, claims));
    await waitFor(
      cluster,
      { ...POD_KIND, namespace },
      {
        check: (pods) => (users(pods).length === 0 ? true : undefined),
        timeoutMs,
        describeTimeout: (pods) =>
          `pods still mount the source PVCs ${timeoutMs / 1000} s after quiescing (rsync_server_ready_timeout_seconds): ${users(pods)
            .map((pod) => `${namespace}/${pod.metadata?.name}`)
            .join(', ')}; a pod no workload owns is not stopped by quiescePods`,
        ...(signal ? { signal } : {}),
      },
    );
  }
}

/** Puts back every workload this run quiesced in the given namespaces; returns what it restored. */
export async function restoreWorkloads(
  cluster: Cluster,
  runId: string,
  namespaces: readonly string[],
  writes: WriteCounter,
  scope: string,
): Promise<WorkloadRef[]> {
  const restored: WorkloadRef[] = [];
  for (const namespace of new Set(namespaces)) {
    for (const kind of WORKLOAD_KINDS) {
      for (const object of await listWorkloads(cluster, kind, namespace)) {
        if (object.metadata?.annotations?.[ANNOTATION_QUIESCED_BY] !== runId) continue;
        await patchWorkload(cluster, kind, object, kind.restore(object), writes, scope);
        restored.push(refOf(kind, object));
      }
    }
  }
  return restored;
}

function claimsByNamespace(pvcs: readonly ClaimRef[]): Map<string, Set<string>> {
  const byNamespace = new Map<string, Set<string>>();
  for (const pvc of pvcs) byNamespace.set(pvc.namespace, (byNamespace.get(pvc.namespace) ?? new Set()).add(pvc.name));
  return byNamespace;
}

async function listWorkloads(cluster: Cluster, kind: WorkloadKind, namespace: string): Promise<Obj[]> {
  try {
    return (await listObjects(cluster, kind.apiVersion, kind.kind, namespace)).items;
  } catch (error) {
    // The API is not served here (no DeploymentConfigs outside OpenShift): there are none to stop.
    if (kind.optional && (isNotFound(error) || /unable to find api|not found|no matches for kind/i.test((error as Error).message ?? ''))) return [];
    throw error;
  }
}

function isRunningOrPending(pod: Obj): boolean {
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

function refOf(kind: WorkloadKind, object: Obj): WorkloadRef {
  return { kind: kind.kind, namespace: object.metadata!.namespace!, name: object.metadata!.name! };
}

async function patchWorkload(cluster: Cluster, kind: WorkloadKind, object: Obj, body: object, writes: WriteCounter, scope: string): Promise<void> {
  writes.record(scope);
  const { metadata, ...rest } = body as { metadata?: object };
  const target = {
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    metadata: { ...metadata, name: object.metadata!.name!, namespace: object.metadata!.namespace! },
    ...rest,
  };
  await cluster.objects.patch(target, undefined, undefined, 'dvm-controller', undefined, k8s.PatchStrategy.MergePatch);
}
