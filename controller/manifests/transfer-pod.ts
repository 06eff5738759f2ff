// One typed pod builder for both ends of a transfer (as VolSync builds its mover pods, switched on
// direction): the agent container, its config and TLS Secrets and /tmp are the same on both sides;
// what differs (command, ports, probes, data volumes, restart policy) is chosen by the side, and the
// volume kind decides the agent's command and whether the PVCs are mounts or devices.
import type { V1Affinity, V1Container, V1Pod, V1Volume, V1VolumeDevice, V1VolumeMount } from '@kubernetes/client-node';
import type { ControllerSettings } from '../config/settings.js';
import {
  CLIENT_CONTAINER,
  CONFIG_DIR,
  CONFIG_FILE,
  HEALTH_PORT,
  HEALTH_PORT_NAME,
  PROGRESS_PORT,
  PROGRESS_PORT_NAME,
  RSYNC_PORT,
  RSYNC_PORT_NAME,
  SERVER_CONTAINER,
  TERMINATION_LOG,
  TLS_DIR,
  TMP_DIR,
} from './names.js';
import { containerResources, containerSecurityContext, podSecurityContext, SECRET_FILE_MODE, type Side } from './security.js';
import type { VolumeKind } from './volume-kind.js';

/** The dvm-agent subcommand of each side and kind (agent/main.ts). */
const AGENT_COMMAND: Record<VolumeKind, Record<Side, string>> = {
  filesystem: { source: 'client', target: 'server' },
  block: { source: 'block-client', target: 'block-server' },
};

export interface TransferPodInput {
  side: Side;
  kind: VolumeKind;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  configSecret: string;
  tlsSecret: string;
  /** The PVCs this pod uses, and where: mount directories, or device paths for block volumes. */
  data: Array<{ volumeName: string; claimName: string; path: string }>;
  settings: ControllerSettings;
  affinity?: V1Affinity;
}

export function transferPod(input: TransferPodInput): V1Pod {
  const source = input.side === 'source';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: input.name, namespace: input.namespace, labels: input.labels },
    spec: {
      // A crashed server comes back on its own, clients retrying meanwhile; a client's completion is
      // read from this one run's exit code, and retries are new pods with a new attempt label.
      restartPolicy: source ? 'Never' : 'Always',
      automountServiceAccountToken: false,
      securityContext: podSecurityContext(input.settings, input.side),
      ...(input.affinity ? { affinity: input.affinity } : {}),
      containers: [agentContainer(input)],
      volumes: [
        { name: 'config', secret: { secretName: input.configSecret, defaultMode: SECRET_FILE_MODE } },
        { name: 'tls', secret: { secretName: input.tlsSecret, defaultMode: SECRET_FILE_MODE } },
        { name: 'tmp', emptyDir: {} },
        ...input.data.map((volume): V1Volume => ({
          name: volume.volumeName,
          // The source is only ever read.
          persistentVolumeClaim: { claimName: volume.claimName, ...(source ? { readOnly: true } : {}) },
        })),
      ],
    },
  };
}

function agentContainer(input: TransferPodInput): V1Container {
  const source = input.side === 'source';
  const mounts: V1VolumeMount[] = [
    { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    { name: 'tls', mountPath: TLS_DIR, readOnly: true },
    { name: 'tmp', mountPath: TMP_DIR },
  ];
  // A block volume is a device node in the container (the source one opened read-only by the agent).
  const block = input.kind === 'block';
  const devices = block ? input.data.map((volume): V1VolumeDevice => ({ name: volume.volumeName, devicePath: volume.path })) : [];
  const dataMounts = block
    ? []
    : input.data.map((volume): V1VolumeMount => ({ name: volume.volumeName, mountPath: volume.path, ...(source ? { readOnly: true } : {}) }));
  return {
    name: source ? CLIENT_CONTAINER : SERVER_CONTAINER,
    image: input.settings.rsync_transfer_image_fqin,
    imagePullPolicy: 'IfNotPresent',
    command: ['dvm-agent', AGENT_COMMAND[input.kind][input.side], '--config', CONFIG_FILE],
    ports: source
      ? [{ name: PROGRESS_PORT_NAME, containerPort: PROGRESS_PORT, protocol: 'TCP' }]
      : [
          { name: RSYNC_PORT_NAME, containerPort: RSYNC_PORT, protocol: 'TCP' },
          { name: HEALTH_PORT_NAME, containerPort: HEALTH_PORT, protocol: 'TCP' },
        ],
    ...(source
      ? {}
      : {
          readinessProbe: { httpGet: { path: '/readyz', port: HEALTH_PORT_NAME }, periodSeconds: 2, failureThreshold: 3 },
          livenessProbe: { httpGet: { path: '/healthz', port: HEALTH_PORT_NAME }, periodSeconds: 10, failureThreshold: 6 },
        }),
    resources: containerResources(input.settings, input.side),
    securityContext: containerSecurityContext(input.settings),
    terminationMessagePath: TERMINATION_LOG,
    // The agent writes its result there; if it dies first, the kubelet keeps its last log lines instead.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [...mounts, ...dataMounts],
    ...(block ? { volumeDevices: devices } : {}),
  };
}
