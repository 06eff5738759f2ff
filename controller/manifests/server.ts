// The destination side: one server pod per destination namespace (every PVC a module) and its Service.
import type { ControllerSettings } from '../config/settings.js';
import { serverLabels } from './labels.js';
import {
  CONFIG_DIR, CONFIG_FILE, HEALTH_PORT, HEALTH_PORT_NAME, RSYNC_PORT, RSYNC_PORT_NAME, SERVER_CONTAINER,
  serverConfigSecretName, serverPodName, serverTlsSecretName, serviceName, TERMINATION_LOG, TLS_DIR, TMP_DIR,
} from './names.js';
import type { ServerPlan } from './plan.js';
import { containerResources, containerSecurityContext, podSecurityContext, SECRET_FILE_MODE } from './security.js';

export function serverPod(runId: string, server: ServerPlan, settings: ControllerSettings): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: serverPodName(runId), namespace: server.namespace, labels: serverLabels(runId) },
    spec: {
      // A crashed server comes back on its own; clients retry the connection meanwhile.
      restartPolicy: 'Always',
      automountServiceAccountToken: false,
      securityContext: podSecurityContext(settings, 'target'),
      containers: [{
        name: SERVER_CONTAINER,
        image: settings.rsync_transfer_image_fqin,
        imagePullPolicy: 'IfNotPresent',
        command: ['dvm-agent', 'server', '--config', CONFIG_FILE],
        ports: [
          { name: RSYNC_PORT_NAME, containerPort: RSYNC_PORT, protocol: 'TCP' },
          { name: HEALTH_PORT_NAME, containerPort: HEALTH_PORT, protocol: 'TCP' },
        ],
        readinessProbe: { httpGet: { path: '/readyz', port: HEALTH_PORT_NAME }, periodSeconds: 2, failureThreshold: 3 },
        livenessProbe: { httpGet: { path: '/healthz', port: HEALTH_PORT_NAME }, periodSeconds: 10, failureThreshold: 6 },
        resources: containerResources(settings, 'target'),
        securityContext: containerSecurityContext(settings),
        terminationMessagePath: TERMINATION_LOG,
        // The agent writes its result there; if it dies first, the kubelet keeps its last log lines instead.
        terminationMessagePolicy: 'FallbackToLogsOnError',
        volumeMounts: [
          { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
          { name: 'tls', mountPath: TLS_DIR, readOnly: true },
          { name: 'tmp', mountPath: TMP_DIR },
          ...server.modules.map((module) => ({ name: module.volumeName, mountPath: module.mountPath })),
        ],
      }],
      volumes: [
        { name: 'config', secret: { secretName: serverConfigSecretName(runId), defaultMode: SECRET_FILE_MODE } },
        { name: 'tls', secret: { secretName: serverTlsSecretName(runId), defaultMode: SECRET_FILE_MODE } },
        { name: 'tmp', emptyDir: {} },
        ...server.modules.map((module) => ({
          name: module.volumeName,
          persistentVolumeClaim: { claimName: module.pair.target.name },
        })),
      ],
    },
  };
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

/** The Service in front of a namespace's server pod; its type is the endpoint kind's choice. */
export function serverService(runId: string, namespace: string, type: ServiceType): Record<string, unknown> {
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
