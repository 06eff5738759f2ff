// The source side: one client pod per PVC, mounting the source PVC read-only, pinned to the node of a
// running pod that mounts it when the PVC is ReadWriteOnce (the volume can only attach there).
import type { ControllerSettings } from '../config/settings.js';
import { clientLabels } from './labels.js';
import {
  CLIENT_CONTAINER, clientConfigSecretName, clientPodName, clientTlsSecretName, CONFIG_DIR, CONFIG_FILE,
  PROGRESS_PORT, PROGRESS_PORT_NAME, SOURCE_MOUNT, TERMINATION_LOG, TLS_DIR, TMP_DIR,
} from './names.js';
import type { ClientPlan } from './plan.js';
import { containerResources, containerSecurityContext, podSecurityContext, SECRET_FILE_MODE } from './security.js';

export interface ClientPodOptions {
  attempt: number;
  /** Node of a running pod that mounts the source PVC, when the PVC is RWO. */
  pinToNode?: string;
}

export function clientPod(runId: string, client: ClientPlan, settings: ControllerSettings, options: ClientPodOptions): Record<string, unknown> {
  const { pair } = client;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: clientPodName(runId, pair, options.attempt),
      namespace: pair.source.namespace,
      labels: clientLabels(runId, pair.source.name, options.attempt),
    },
    spec: {
      // Completion is read from this one run's exit code; retries are new pods with a new attempt label.
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: podSecurityContext(settings, 'source'),
      ...(options.pinToNode ? { affinity: nodeAffinity(options.pinToNode) } : {}),
      containers: [{
        name: CLIENT_CONTAINER,
        image: settings.rsync_transfer_image_fqin,
        imagePullPolicy: 'IfNotPresent',
        command: ['dvm-agent', 'client', '--config', CONFIG_FILE],
        ports: [{ name: PROGRESS_PORT_NAME, containerPort: PROGRESS_PORT, protocol: 'TCP' }],
        resources: containerResources(settings, 'source'),
        securityContext: containerSecurityContext(settings),
        terminationMessagePath: TERMINATION_LOG,
        // The agent writes its result there; if it dies first, the kubelet keeps its last log lines instead.
        terminationMessagePolicy: 'FallbackToLogsOnError',
        volumeMounts: [
          { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
          { name: 'tls', mountPath: TLS_DIR, readOnly: true },
          { name: 'tmp', mountPath: TMP_DIR },
          { name: 'source', mountPath: SOURCE_MOUNT, readOnly: true },
        ],
      }],
      volumes: [
        { name: 'config', secret: { secretName: clientConfigSecretName(runId, pair), defaultMode: SECRET_FILE_MODE } },
        { name: 'tls', secret: { secretName: clientTlsSecretName(runId, pair), defaultMode: SECRET_FILE_MODE } },
        { name: 'tmp', emptyDir: {} },
        { name: 'source', persistentVolumeClaim: { claimName: pair.source.name, readOnly: true } },
      ],
    },
  };
}

/** Exactly this node, by name (what the DaemonSet controller does). */
function nodeAffinity(nodeName: string): Record<string, unknown> {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
      },
    },
  };
}
