// The source side: one client pod per PVC, mounting the source PVC read-only, pinned to the node of a
// running pod that mounts it when the PVC is ReadWriteOnce (the volume can only attach there).
import type { V1Affinity, V1Pod } from '@kubernetes/client-node';
import type { ControllerSettings } from '../config/settings.js';
import { clientLabels } from './labels.js';
import { BLOCK_SOURCE_DEVICE, clientConfigSecretName, clientPodName, clientTlsSecretName, SOURCE_MOUNT } from './names.js';
import type { ClientPlan } from './plan.js';
import { transferPod } from './transfer-pod.js';

export interface ClientPodOptions {
  attempt: number;
  /** Node of a running pod that mounts the source PVC, when the PVC is RWO. */
  pinToNode?: string;
}

export function clientPod(runId: string, client: ClientPlan, settings: ControllerSettings, options: ClientPodOptions): V1Pod {
  const { pair } = client;
  return transferPod({
    side: 'source',
    kind: client.kind,
    name: clientPodName(runId, pair, options.attempt),
    namespace: pair.source.namespace,
    labels: clientLabels(runId, pair.source.name, options.attempt, client.kind),
    configSecret: clientConfigSecretName(runId, pair),
    tlsSecret: clientTlsSecretName(runId, pair),
    data: [{ volumeName: 'source', claimName: pair.source.name, path: sourcePath(client) }],
    settings,
    ...(options.pinToNode ? { affinity: nodeAffinity(options.pinToNode) } : {}),
  });
}

/** Where the client pod has the source PVC: a read-only mount, or a device. */
export function sourcePath(client: ClientPlan): string {
  return client.kind === 'block' ? BLOCK_SOURCE_DEVICE : SOURCE_MOUNT;
}

/** Exactly this node, by name (what the DaemonSet controller does). */
function nodeAffinity(nodeName: string): V1Affinity {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
      },
    },
  };
}
