// Reading and writing the two custom resources through the CustomObjectsApi: merge patches (status
// through the status subresource, so a status write can never change a spec, and a spec write by a
// user never races a status write), creation, and deletion by label.
import * as k8s from '@kubernetes/client-node';
import { isNotFound } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import { DVM_RESOURCE, MIGRATION_GROUP, MIGRATION_VERSION, type DirectVolumeMigration } from './resources.js';

type Resource = { plural: string };

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

function coordinates(resource: Resource, namespace: string) {
  return { group: MIGRATION_GROUP, version: MIGRATION_VERSION, plural: resource.plural, namespace };
}

export async function readCustom<T>(cluster: Cluster, resource: Resource, namespace: string, name: string): Promise<T | undefined> {
  try {
    return (await cluster.custom.getNamespacedCustomObject({ ...coordinates(resource, namespace), name })) as T;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export function readDvm(cluster: Cluster, namespace: string, name: string): Promise<DirectVolumeMigration | undefined> {
  return readCustom<DirectVolumeMigration>(cluster, DVM_RESOURCE, namespace, name);
}

export async function createCustom<T>(cluster: Cluster, resource: Resource, namespace: string, body: object): Promise<T> {
  return (await cluster.custom.createNamespacedCustomObject({ ...coordinates(resource, namespace), body })) as T;
}

/** A JSON merge patch of the object itself (metadata: finalizers). */
export async function patchCustom<T>(cluster: Cluster, resource: Resource, namespace: string, name: string, body: object): Promise<T> {
  return (await cluster.custom.patchNamespacedCustomObject({ ...coordinates(resource, namespace), name, body }, MERGE_PATCH)) as T;
}

/** A JSON merge patch of the status subresource: every field we own is written each time (arrays
 * replace, so a list that became empty is written as []). */
export async function patchStatus(cluster: Cluster, resource: Resource, namespace: string, name: string, status: object): Promise<void> {
  await cluster.custom.patchNamespacedCustomObjectStatus({ ...coordinates(resource, namespace), name, body: { status } }, MERGE_PATCH);
}

export async function deleteCustomByLabel(cluster: Cluster, resource: Resource, namespace: string, labelSelector: string): Promise<void> {
  try {
    await cluster.custom.deleteCollectionNamespacedCustomObject({ ...coordinates(resource, namespace), labelSelector });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
