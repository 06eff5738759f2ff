// Deleting everything that carries a set of labels, on one cluster, and waiting until it is gone:
// one deletecollection per kind and namespace, then a watch until the list is empty.
import { describeApiError, isNotFound } from './api-error.js';
import type { Cluster } from './connection.js';
import { LABELLED_KINDS, type LabelledKind } from './kinds.js';
import { listObjects, servesGroupVersion, type Obj } from './objects.js';
import { waitFor } from './watch.js';
import type { WriteCounter } from './write-counter.js';

export interface LabelledObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

/** Kinds this cluster serves (Routes are skipped on plain Kubernetes). */
async function servedKinds(cluster: Cluster): Promise<LabelledKind[]> {
  const served: LabelledKind[] = [];
  for (const kind of LABELLED_KINDS) {
    if (!kind.optional || (await servesGroupVersion(cluster, kind.apiVersion))) served.push(kind);
  }
  return served;
}

export async function findLabelled(cluster: Cluster, labelSelector: string): Promise<LabelledObjectRef[]> {
  const found: LabelledObjectRef[] = [];
  for (const kind of await servedKinds(cluster)) {
    const { items } = await listObjects(cluster, kind.apiVersion, kind.kind, undefined, labelSelector);
    found.push(...items.map((item: Obj) => ({ kind: kind.kind, namespace: item.metadata?.namespace ?? '', name: item.metadata?.name ?? '' })));
  }
  return found;
}

export interface DeleteOptions {
  writes: WriteCounter;
  scope: string;
  timeoutMs: number;
  /** Only these namespaces (a run knows its own); all namespaces otherwise. */
  namespaces?: string[];
}

/** Returns how many objects were deleted. */
export async function deleteLabelled(cluster: Cluster, labelSelector: string, options: DeleteOptions): Promise<number> {
  let deleted = 0;
  const kinds = await servedKinds(cluster);
  for (const kind of kinds) {
    const namespaces = options.namespaces ?? [
      ...new Set((await listObjects(cluster, kind.apiVersion, kind.kind, undefined, labelSelector)).items.map((item) => item.metadata?.namespace ?? '')),
    ];
    for (const namespace of namespaces) {
      const { items } = await listObjects(cluster, kind.apiVersion, kind.kind, namespace, labelSelector);
      if (items.length === 0) continue;
      options.writes.record(options.scope);
      try {
        await deleteCollection(cluster, kind, namespace, labelSelector);
      } catch (error) {
        if (!isNotFound(error))
          throw new Error(`deleting ${kind.kind}s labelled ${labelSelector} in ${namespace} on the ${cluster.role} cluster: ${describeApiError(error)}`);
      }
      deleted += items.length;
    }
  }
  for (const kind of kinds) {
    await waitFor(
      cluster,
      { ...kind, labelSelector },
      {
        check: (objects) =>
          objects.some((object) => options.namespaces === undefined || options.namespaces.includes(object.metadata?.namespace ?? '')) ? undefined : true,
        timeoutMs: options.timeoutMs,
        describeTimeout: (objects) =>
          `${objects.length} ${kind.kind}(s) labelled ${labelSelector} still exist on the ${cluster.role} cluster: ${objects.map((object) => `${object.metadata?.namespace}/${object.metadata?.name}`).join(', ')}`,
      },
    );
  }
  return deleted;
}

async function deleteCollection(cluster: Cluster, kind: LabelledKind, namespace: string, labelSelector: string): Promise<void> {
  switch (kind.kind) {
    case 'Pod':
      await cluster.core.deleteCollectionNamespacedPod({ namespace, labelSelector });
      return;
    case 'Service':
      await cluster.core.deleteCollectionNamespacedService({ namespace, labelSelector });
      return;
    case 'Secret':
      await cluster.core.deleteCollectionNamespacedSecret({ namespace, labelSelector });
      return;
    case 'NetworkPolicy':
      await cluster.networking.deleteCollectionNamespacedNetworkPolicy({ namespace, labelSelector });
      return;
    default: {
      const [group, version] = kind.apiVersion.split('/') as [string, string];
      await cluster.custom.deleteCollectionNamespacedCustomObject({ group, version, namespace, plural: kind.plural, labelSelector });
    }
  }
}
