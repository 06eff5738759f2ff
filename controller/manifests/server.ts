// The destination side: one server pod per destination namespace (every PVC a module) and its Service.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { ControllerSettings } from '../config/settings.js';
import { serverLabels } from './labels.js';
import { RSYNC_PORT, RSYNC_PORT_NAME, serverConfigSecretName, serverPodName, serverTlsSecretName, serviceName } from './names.js';
import type { ServerPlan, ServerSite } from './plan.js';
import { transferPod } from './transfer-pod.js';

export function serverPod(runId: string, server: ServerPlan, settings: ControllerSettings): V1Pod {
  return transferPod({
    side: 'target',
    kind: server.kind,
    name: serverPodName(runId, server.kind),
    namespace: server.namespace,
    labels: serverLabels(runId, server.kind),
    configSecret: serverConfigSecretName(runId, server.kind),
    tlsSecret: serverTlsSecretName(runId, server.kind),
    data: server.modules.map((module) => ({ volumeName: module.volumeName, claimName: module.pair.target.name, path: module.path })),
    settings,
  });
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

/** The Service in front of a site's server pod; its type is the endpoint kind's choice. */
export function serverService(runId: string, site: ServerSite, type: ServiceType): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(runId, site.kind), namespace: site.namespace, labels: serverLabels(runId, site.kind) },
    spec: {
      type,
      selector: serverLabels(runId, site.kind),
      ports: [{ name: RSYNC_PORT_NAME, port: RSYNC_PORT, targetPort: RSYNC_PORT_NAME, protocol: 'TCP' }],
    },
  };
}
