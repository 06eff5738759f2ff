// Create, read, list and delete through KubernetesObjectApi, every write counted against a PVC or
// the shared scope.
import * as k8s from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { isAlreadyExists, isNotFound } from './api-error.js';
import type { Cluster } from './connection.js';
import type { WriteCounter } from './write-counter.js';

export type Obj = KubernetesObject & Record<string, any>;

export async function createObject(cluster: Cluster, object: KubernetesObject, writes: WriteCounter, scope: string): Promise<Obj> {
  writes.record(scope);
  return (await cluster.objects.create(object)) as Obj;
}

/** Creates, or returns the existing object of that name untouched (existing = reuse, not overwrite). */
export async function ensureObject(
  cluster: Cluster,
  object: KubernetesObject,
  writes: WriteCounter,
  scope: string,
): Promise<{ object: Obj; created: boolean }> {
  const existing = await readObject(cluster, object);
  if (existing) return { object: existing, created: false };
  try {
    return { object: await createObject(cluster, object, writes, scope), created: true };
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    return { object: (await readObject(cluster, object))!, created: false };
  }
}

export async function readObject(cluster: Cluster, object: KubernetesObject): Promise<Obj | undefined> {
  const metadata = object.metadata as { name: string; namespace?: string };
  try {
    return (await cluster.objects.read({
      apiVersion: object.apiVersion as string,
      kind: object.kind as string,
      metadata: { name: metadata.name, ...(metadata.namespace !== undefined ? { namespace: metadata.namespace } : {}) },
    })) as Obj;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function listObjects(
  cluster: Cluster,
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
  labelSelector?: string,
  fieldSelector?: string,
): Promise<{ items: Obj[]; resourceVersion: string }> {
  const list = await cluster.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, fieldSelector, labelSelector);
  return { items: list.items as Obj[], resourceVersion: list.metadata?.resourceVersion ?? '' };
}

/** Whether the cluster serves an API group version at all (Routes only exist on OpenShift). */
export async function servesGroupVersion(cluster: Cluster, apiVersion: string): Promise<boolean> {
  if (!apiVersion.includes('/')) return true;
  const groups = await cluster.kc.makeApiClient(k8s.ApisApi).getAPIVersions();
  return groups.groups.some((group) => group.versions.some((version) => version.groupVersion === apiVersion));
}
