// The shape of a run, before any object exists: per destination namespace one server per volume
// kind (every Filesystem PVC an rsync module of the file server, every Block PVC a target of the
// block server), one client per PVC in its source namespace.
import { pvcKey, pvcPairs, type MigrationSpec, type PvcPair } from '../config/spec.js';
import { pvcIdentity } from '../../contract/identity.js';
import { BLOCK_DEVICE_ROOT, DESTINATION_MOUNT_ROOT, moduleName } from './names.js';
import { volumeKindOf, type VolumeKind, type VolumeMode } from './volume-kind.js';

export interface ModulePlan {
  pair: PvcPair;
  /** The rsync module, or the block server's target name. */
  module: string;
  volumeName: string;
  /** Where the server pod has the PVC: a mount directory, or a device path for a block volume. */
  path: string;
  /** The URI the client certificate for this PVC carries; the server serves the module to it only. */
  identity: string;
}

/** Where a server runs: its namespace and the kind of volume it writes. */
export interface ServerSite {
  namespace: string;
  kind: VolumeKind;
}

export interface ServerPlan extends ServerSite {
  modules: ModulePlan[];
}

export interface ClientPlan {
  pair: PvcPair;
  /** "namespace/name" of the source PVC: the pvc field of every event. */
  key: string;
  kind: VolumeKind;
  serverNamespace: string;
  module: string;
  identity: string;
}

export interface TransferPlan {
  runId: string;
  servers: ServerPlan[];
  clients: ClientPlan[];
  sourceNamespaces: string[];
  destinationNamespaces: string[];
  /** quiescePods: the applications that use the source PVCs are stopped before the copy. */
  quiesce: boolean;
}

/** Source volume modes by "namespace/name", as preflight read them; a PVC not listed is planned by
 * its targetVolumeMode, else as a Filesystem volume (rendering without clusters). */
export type VolumeModes = Record<string, VolumeMode>;

export function planTransfer(runId: string, spec: MigrationSpec, modes: VolumeModes = {}): TransferPlan {
  const pairs = pvcPairs(spec);
  const servers = new Map<string, ServerPlan>();
  const clients: ClientPlan[] = [];
  for (const pair of pairs) {
    const key = pvcKey(pair.source);
    const kind = volumeKindOf(modes[key] ?? pair.targetVolumeMode);
    const site = { namespace: pair.target.namespace, kind };
    const server = servers.get(serverKey(site)) ?? { ...site, modules: [] };
    servers.set(serverKey(site), server);
    const module = moduleName(pair);
    const identity = pvcIdentity(pair.target.namespace, pair.target.name);
    server.modules.push({
      pair,
      module,
      volumeName: `pvc-${server.modules.length}`,
      path: `${kind === 'block' ? BLOCK_DEVICE_ROOT : DESTINATION_MOUNT_ROOT}/${module}`,
      identity,
    });
    clients.push({ pair, key, kind, serverNamespace: pair.target.namespace, module, identity });
  }
  return {
    runId,
    servers: [...servers.values()],
    clients,
    sourceNamespaces: unique(pairs.map((pair) => pair.source.namespace)),
    destinationNamespaces: unique(pairs.map((pair) => pair.target.namespace)),
    quiesce: spec.quiescePods,
  };
}

/** What endpoints and servers are looked up by: "namespace" for files (as before block volumes),
 * "namespace#block" for the block server. */
export function serverKey(site: ServerSite): string {
  return site.kind === 'block' ? `${site.namespace}#block` : site.namespace;
}

/** The server a client dials. */
export function clientSite(client: ClientPlan): ServerSite {
  return { namespace: client.serverNamespace, kind: client.kind };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
