// Names of every object dvm creates, defined once. Kubernetes limits: DNS labels (63) for pods'
// hostnames, Services and Route host labels; names too long for their slot are cut and keep a
// short hash of the full name so they stay unique.
import { createHash } from 'node:crypto';
import type { PvcPair } from '../config/spec.js';
import type { ServerSite } from './plan.js';
import type { VolumeKind } from './volume-kind.js';

const MAX_LABEL = 63;

export function shortHash(value: string, length = 6): string {
  return createHash('sha256').update(value).digest('hex').slice(0, length);
}

/** parts joined with "-", at most max characters; when cut, ends in a hash of the whole. */
export function boundedName(parts: string[], max: number): string {
  const joined = parts.join('-').toLowerCase();
  return joined.length <= max ? joined : withHash(joined, max, joined);
}

/** `head-<hash of identity>` within max characters. */
export function withHash(head: string, max: number, identity: string): string {
  const hash = shortHash(identity);
  return `${head.slice(0, max - hash.length - 1).replace(/[^A-Za-z0-9]+$/, '')}-${hash}`;
}

/** A run id as it appears inside object names: short, lowercase, DNS-safe. */
export function runToken(runId: string): string {
  return /^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/.test(runId) ? runId : shortHash(runId, 8);
}

export const SERVER_CONTAINER = 'rsync-server';
export const CLIENT_CONTAINER = 'rsync-client';
export const RSYNC_PORT = 2222;
export const RSYNC_PORT_NAME = 'rsync-tls';
export const HEALTH_PORT = 8080;
export const HEALTH_PORT_NAME = 'health';
export const PROGRESS_PORT = 8081;
export const PROGRESS_PORT_NAME = 'progress';
export const ROUTE_PORT = 443;

export const CONFIG_DIR = '/etc/dvm/config';
export const CONFIG_FILE = `${CONFIG_DIR}/agent.yaml`;
export const TLS_DIR = '/etc/dvm/tls';
export const TMP_DIR = '/tmp';
export const SOURCE_MOUNT = '/mnt/source';
export const DESTINATION_MOUNT_ROOT = '/mnt/pvc';
export const TERMINATION_LOG = '/dev/termination-log';
/** Block volumes are devices (volumeDevices), not mounts: the source's, and one per target. */
export const BLOCK_DEVICE_ROOT = '/dev/dvm';
export const BLOCK_SOURCE_DEVICE = `${BLOCK_DEVICE_ROOT}/source`;

/** A destination namespace may hold a server of each kind: their objects' names differ by this. */
const SERVER_PREFIX: Record<VolumeKind, string> = { filesystem: 'dvm-rsync', block: 'dvm-block' };

export function serverPodName(runId: string, kind: VolumeKind): string {
  return `${SERVER_PREFIX[kind]}-server-${runToken(runId)}`;
}
export function serviceName(runId: string, kind: VolumeKind): string {
  return `${SERVER_PREFIX[kind]}-${runToken(runId)}`;
}
export function routeName(runId: string, kind: VolumeKind): string {
  return kind === 'block' ? `dvm-block-${runToken(runId)}` : `dvm-${runToken(runId)}`;
}
export function serverConfigSecretName(runId: string, kind: VolumeKind): string {
  return `${SERVER_PREFIX[kind]}-server-config-${runToken(runId)}`;
}
export function serverTlsSecretName(runId: string, kind: VolumeKind): string {
  return `${SERVER_PREFIX[kind]}-server-tls-${runToken(runId)}`;
}
export function clientTlsSecretName(runId: string, pair: PvcPair): string {
  const suffix = `-${runToken(runId)}`;
  return `${boundedName(['dvm-rsync-client-tls', pair.source.name], 253 - suffix.length)}${suffix}`;
}
export function clientConfigSecretName(runId: string, pair: PvcPair): string {
  const suffix = `-${runToken(runId)}`;
  return `${boundedName(['dvm-rsync-client', pair.source.name], 253 - suffix.length)}${suffix}`;
}
export function clientPodName(runId: string, pair: PvcPair, attempt: number): string {
  // The suffix (run and attempt) must survive the cut, so only the PVC part is shortened.
  const suffix = `-${runToken(runId)}-${attempt}`;
  return `${boundedName(['dvm-rsync', pair.source.name], MAX_LABEL - suffix.length)}${suffix}`;
}
export function netpolIngressName(runId: string): string {
  return `dvm-rsync-allow-ingress-${runToken(runId)}`;
}
export function netpolEgressName(runId: string): string {
  return `dvm-rsync-allow-egress-${runToken(runId)}`;
}

/** The rsync module (and mount directory) of a destination PVC on its namespace's server. */
export function moduleName(pair: PvcPair): string {
  return boundedName([pair.target.name], MAX_LABEL);
}

/** `<route>-<namespace>.<subdomain>`, the first label cut to 63 (OpenShift's own default shape). */
export function routeHost(runId: string, site: ServerSite, subdomain: string): string {
  return `${boundedName([routeName(runId, site.kind), site.namespace], MAX_LABEL)}.${subdomain}`;
}

/** Names a client may dial a Service by, inside the destination cluster. */
export function serviceDnsNames(runId: string, site: ServerSite): string[] {
  const service = serviceName(runId, site.kind);
  return [`${service}.${site.namespace}.svc`, `${service}.${site.namespace}.svc.cluster.local`];
}

/** The DirectVolumeMigrationProgress of one PVC of a DirectVolumeMigration, in the DVM's namespace:
 * `<dvm>-<pvc>`, cut to a DNS subdomain, always with a hash of both (PVCs of two namespaces may share
 * a name). */
export function progressName(dvmName: string, pvc: { namespace: string; name: string }): string {
  const identity = `${dvmName}/${pvc.namespace}/${pvc.name}`;
  return withHash(boundedName([dvmName, pvc.name], 240), 253, identity);
}
