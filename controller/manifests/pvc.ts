// Destination namespaces and PVCs: kept after the run (they hold the migrated data), so they carry
// no run label, only annotations that say where they came from.
import type { V1Namespace, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { PvcPair } from '../config/spec.js';
import { pvcKey } from '../config/spec.js';
import { ANNOTATION_CREATED_BY_RUN, ANNOTATION_SOURCE_PVC } from './labels.js';

/** What the controller read from the source PVC. */
export interface SourcePvcInfo {
  storage: string;
  accessModes: string[];
  volumeMode: 'Filesystem' | 'Block';
  storageClassName?: string;
}

export function destinationNamespace(name: string, runId: string): V1Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations: { [ANNOTATION_CREATED_BY_RUN]: runId } } };
}

export function destinationPvc(pair: PvcPair, source: SourcePvcInfo, storageClassMapping: Record<string, string>, runId: string): V1PersistentVolumeClaim {
  const mapped = source.storageClassName !== undefined ? storageClassMapping[source.storageClassName] : undefined;
  // Without a mapping or an explicit class the destination cluster's default class is used: the
  // source's class name rarely exists there.
  const storageClassName = pair.targetStorageClass ?? mapped;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: pair.target.name,
      namespace: pair.target.namespace,
      annotations: { [ANNOTATION_SOURCE_PVC]: pvcKey(pair.source), [ANNOTATION_CREATED_BY_RUN]: runId },
    },
    spec: {
      accessModes: pair.targetAccessModes ?? source.accessModes,
      volumeMode: pair.targetVolumeMode ?? source.volumeMode,
      resources: { requests: { storage: source.storage } },
      ...(storageClassName !== undefined ? { storageClassName } : {}),
    },
  };
}
