// The destination side: one server pod per destination namespace (every PVC a module) and its Service.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { ControllerSettings } from '../config/settings.js';
import { serverLabels } from './labels.js';
import { RSYNC_PORT, RSYNC_PORT_NAME, serverConfigSecretName, serverPodName, serverTlsSecretName, serviceName } from './names.js';
import type { ServerPlan } from './plan.js';
import { transferPod } from './transfer-pod.js';

export function serverPod(runId: string, server: ServerPlan, settings: ControllerSettings): V1Pod {
  return transferPod({
    side: 'target',
    name: serverPodName(runId),
    namespace: server.namespace,
    labels: serverLabels(runId),
    configSecret: serverConfigSecretName(runId),
    tlsSecret: serverTlsSecretName(runId),
    data: server.modules.map((module) => ({ volumeName: module.volumeName, claimName: module.pair.target.name, mountPath: module.mountPath })),
    settings,
  });
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

/** The Service in front of a namespace's server pod; its type is the endpoint kind's choice. */
export function serverService(runId: string, namespace: string, type: ServiceType): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(runId), namespace, labels: serverLabels(runId) },
    spec: {
      type,
      selector: serverLabels(runId),
      ports: [{ name: RSYNC_PORT_NAME, port: RSYNC_PORT, targetPort: RSYNC_PORT_NAME, protocol: 'TCP' }],
    },
  };
}
