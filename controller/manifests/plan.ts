// The shape of a run, before any object exists: one server per destination namespace holding all
// of that namespace's PVCs as rsync modules, one client per PVC in its source namespace.
import { pvcKey, pvcPairs, type MigrationSpec, type PvcPair } from '../config/spec.js';
import { pvcIdentity } from '../../contract/identity.js';
import { DESTINATION_MOUNT_ROOT, moduleName } from './names.js';

export interface ModulePlan {
  pair: PvcPair;
  module: string;
  volumeName: string;
  mountPath: string;
  /** The URI the client certificate for this PVC carries; the server serves the module to it only. */
  identity: string;
}

export interface ServerPlan {
  namespace: string;
  modules: ModulePlan[];
}

export interface ClientPlan {
  pair: PvcPair;
  /** "namespace/name" of the source PVC: the pvc field of every event. */
  key: string;
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

export function planTransfer(runId: string, spec: MigrationSpec): TransferPlan {
  const pairs = pvcPairs(spec);
  const servers = new Map<string, ServerPlan>();
  const clients: ClientPlan[] = [];
  for (const pair of pairs) {
    const server = servers.get(pair.target.namespace) ?? { namespace: pair.target.namespace, modules: [] };
    servers.set(pair.target.namespace, server);
    const module = moduleName(pair);
    const identity = pvcIdentity(pair.target.namespace, pair.target.name);
    server.modules.push({
      pair,
      module,
      volumeName: `pvc-${server.modules.length}`,
      mountPath: `${DESTINATION_MOUNT_ROOT}/${module}`,
      identity,
    });
    clients.push({ pair, key: pvcKey(pair.source), serverNamespace: pair.target.namespace, module, identity });
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

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
