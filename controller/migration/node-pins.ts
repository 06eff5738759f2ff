// A ReadWriteOnce volume is attached to one node: a client pod that mounts it must run there too.
// The node is that of a running pod (not ours) that mounts the PVC.
import type { Obj } from '../cluster/objects.js';
import { isTransferPodLabels } from '../manifests/labels.js';

export interface PinRequest {
  key: string;
  namespace: string;
  claimName: string;
  accessModes: string[];
}

export interface PinResult {
  pins: Record<string, string>;
  /** ReadWriteOncePod PVCs in use: no second pod can mount them. */
  exclusiveInUse: { key: string; pod: string }[];
}

export function nodePins(pods: Obj[], requests: PinRequest[]): PinResult {
  const pins: Record<string, string> = {};
  const exclusiveInUse: PinResult['exclusiveInUse'] = [];
  for (const request of requests) {
    const single = request.accessModes.includes('ReadWriteOnce') || request.accessModes.includes('ReadWriteOncePod');
    if (!single) continue;
    const user = pods.find(
      (pod) =>
        pod.metadata?.namespace === request.namespace &&
        !isTransferPodLabels(pod.metadata?.labels) &&
        pod.status?.phase === 'Running' &&
        pod.spec?.nodeName &&
        (pod.spec?.volumes ?? []).some((volume: Obj) => volume.persistentVolumeClaim?.claimName === request.claimName),
    );
    if (!user) continue;
    if (request.accessModes.includes('ReadWriteOncePod')) exclusiveInUse.push({ key: request.key, pod: `${user.metadata?.namespace}/${user.metadata?.name}` });
    else pins[request.key] = user.spec.nodeName;
  }
  return { pins, exclusiveInUse };
}
