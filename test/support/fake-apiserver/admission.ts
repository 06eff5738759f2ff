// What the real API server checks and fills in on create: names, labels, the namespace existing,
// Service cluster IPs and node ports, bound PVCs, Route hosts, initial status.
import type { ResourceKind } from './kinds.js';
import { ApiError, type KubeObject } from './store.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export interface AdmissionContext {
  namespaceExists(name: string): boolean;
  allocateClusterIp(): string;
  allocateNodePort(): number;
  routeDomain: string;
}

function invalid(kind: ResourceKind, name: string, detail: string): ApiError {
  return new ApiError(422, 'Invalid', `${kind.kind} "${name}" is invalid: ${detail}`);
}

export function validateMetadata(kind: ResourceKind, object: KubeObject): void {
  const metadata = object.metadata ?? {};
  const name: string = metadata.name ?? '';
  const labelOnly = kind.kind === 'Namespace' || kind.kind === 'Service';
  if (!name) throw invalid(kind, name, 'metadata.name: Required value');
  if (name.length > (labelOnly ? 63 : 253) || !(labelOnly ? DNS_LABEL : DNS_SUBDOMAIN).test(name)) {
    throw invalid(kind, name, `metadata.name: Invalid value: "${name}"`);
  }
  for (const [key, value] of Object.entries<string>(metadata.labels ?? {})) {
    const [prefix, base] = key.includes('/') ? (key.split('/', 2) as [string, string]) : [undefined, key];
    if (!LABEL_NAME.test(base) || base.length > 63 || (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))) {
      throw invalid(kind, name, `metadata.labels: Invalid value: "${key}"`);
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      throw invalid(kind, name, `metadata.labels: Invalid value: "${String(value)}": a valid label must be 63 characters or less`);
    }
  }
}

export function admitCreate(kind: ResourceKind, object: KubeObject, context: AdmissionContext): void {
  object.metadata ??= {};
  if (!object.metadata.name && object.metadata.generateName) {
    object.metadata.name = `${object.metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
  }
  validateMetadata(kind, object);
  if (kind.namespaced && !context.namespaceExists(object.metadata.namespace)) {
    throw new ApiError(404, 'NotFound', `namespaces "${object.metadata.namespace}" not found`);
  }
  switch (kind.kind) {
    case 'Namespace':
      object.status = { phase: 'Active' };
      break;
    case 'Pod':
      admitPod(kind, object);
      break;
    case 'Service':
      admitService(object, context);
      break;
    case 'PersistentVolumeClaim':
      object.spec.volumeMode ??= 'Filesystem';
      object.spec.volumeName ??= `pvc-${object.metadata.name}-${Math.random().toString(16).slice(2, 10)}`;
      object.status = { phase: 'Bound', accessModes: object.spec.accessModes, capacity: { storage: object.spec.resources?.requests?.storage } };
      break;
    case 'Route':
      object.spec.host ??= `${object.metadata.name}-${object.metadata.namespace}.${context.routeDomain}`;
      if (object.spec.host.split('.')[0].length > 63) throw invalid(kind, object.metadata.name, 'spec.host: must be no more than 63 characters per label');
      object.status = { ingress: [] };
      break;
    default:
      break;
  }
}

function admitPod(kind: ResourceKind, pod: KubeObject): void {
  const containers = pod.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) throw invalid(kind, pod.metadata.name, 'spec.containers: Required value');
  for (const container of containers) {
    if (!container.image) throw invalid(kind, pod.metadata.name, `spec.containers[${container.name}].image: Required value`);
  }
  const volumes = new Set((pod.spec.volumes ?? []).map((volume: KubeObject) => volume.name));
  for (const container of containers) {
    for (const mount of container.volumeMounts ?? []) {
      if (!volumes.has(mount.name)) throw invalid(kind, pod.metadata.name, `spec.containers[0].volumeMounts.name: Not found: "${mount.name}"`);
    }
  }
  pod.spec.restartPolicy ??= 'Always';
  pod.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False' }] };
}

function admitService(service: KubeObject, context: AdmissionContext): void {
  const spec = (service.spec ??= {});
  spec.type ??= 'ClusterIP';
  spec.clusterIP ??= context.allocateClusterIp();
  spec.clusterIPs = [spec.clusterIP];
  for (const port of spec.ports ?? []) {
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') port.nodePort ??= context.allocateNodePort();
    port.targetPort ??= port.port;
  }
  service.status = { loadBalancer: {} };
}
