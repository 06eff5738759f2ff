// Everything that can be checked before a single object is created: both clusters answer, every
// source PVC exists and is bound, its volume mode is kept (Filesystem or Block), destination
// namespaces exist (or may be created), Routes can work. Any failure is one ConfigError line; the clusters are untouched.
import { checkReachable, isSameCluster } from '../cluster/connection.js';
import { describeApiError } from '../cluster/api-error.js';
import { listObjects, readObject, type Obj } from '../cluster/objects.js';
import { ConfigError } from '../config/errors.js';
import type { ControllerSettings } from '../config/settings.js';
import { checkSameClusterPairs } from '../config/spec.js';
import type { TransferPlan } from '../manifests/plan.js';
import type { SourcePvcInfo } from '../manifests/pvc.js';
import type { VolumeMode } from '../manifests/volume-kind.js';
import { endpointFor } from '../endpoints/index.js';
import type { Clusters, Preflight } from './context.js';
import { nodePins } from './node-pins.js';

export async function preflight(clusters: Clusters, plan: TransferPlan, settings: ControllerSettings): Promise<Preflight> {
  await Promise.all([checkReachable(clusters.source), checkReachable(clusters.destination)]);
  const sourcePvcs: Record<string, SourcePvcInfo> = {};
  // One cluster on both sides: no target may be a PVC the run reads (itself, or another's source).
  if (isSameCluster(clusters.source, clusters.destination)) checkSameClusterPairs(plan.clients.map((client) => client.pair));
  for (const [index, client] of plan.clients.entries()) {
    const at = `persistentVolumeClaims[${index}]`;
    const pvc = await read(clusters.source, 'PersistentVolumeClaim', client.pair.source.namespace, client.pair.source.name, 'source');
    if (!pvc) throw new ConfigError(`${at}: PVC ${client.key} not found on the source cluster`);
    if (pvc.status?.phase !== 'Bound')
      throw new ConfigError(`${at}: PVC ${client.key} is ${pvc.status?.phase ?? 'not bound'} on the source cluster (must be Bound)`);
    const volumeMode: VolumeMode = pvc.spec?.volumeMode === 'Block' ? 'Block' : 'Filesystem';
    checkTargetVolumeMode(at, client.key, volumeMode, client.pair.targetVolumeMode);
    const storage = pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage;
    if (!storage) throw new ConfigError(`${at}: PVC ${client.key} has no size on the source cluster`);
    sourcePvcs[client.key] = {
      storage: String(storage),
      accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
      volumeMode,
      ...(pvc.spec?.storageClassName ? { storageClassName: pvc.spec.storageClassName } : {}),
    };
    const existing = await read(clusters.destination, 'PersistentVolumeClaim', client.pair.target.namespace, client.pair.target.name, 'destination');
    const existingMode = existing ? (existing.spec?.volumeMode ?? 'Filesystem') : undefined;
    if (existingMode !== undefined && existingMode !== volumeMode) {
      throw new ConfigError(
        `${at}.targetName: destination PVC ${client.pair.target.namespace}/${client.pair.target.name} exists and is a ${existingMode} volume; the source is ${volumeMode}`,
      );
    }
  }
  const missingNamespaces: string[] = [];
  for (const namespace of plan.destinationNamespaces) {
    if (!(await read(clusters.destination, 'Namespace', undefined, namespace, 'destination'))) missingNamespaces.push(namespace);
  }
  const { routeSubdomain } = await endpointFor(settings.rsync_endpoint_type).preflight(clusters.destination, settings);
  const pods: Obj[] = [];
  for (const namespace of plan.sourceNamespaces) pods.push(...(await listObjects(clusters.source, 'v1', 'Pod', namespace)).items);
  const pinned = nodePins(
    pods,
    plan.clients.map((client) => ({
      key: client.key,
      namespace: client.pair.source.namespace,
      claimName: client.pair.source.name,
      accessModes: sourcePvcs[client.key]!.accessModes,
    })),
  );
  // With quiescePods the pod that holds it is about to stop; the quiesce step waits until it has.
  const busy = plan.quiesce ? undefined : pinned.exclusiveInUse[0];
  if (busy) throw new ConfigError(`PVC ${busy.key} is ReadWriteOncePod and mounted by pod ${busy.pod}: stop that pod before migrating`);
  return { sourcePvcs, nodePins: pinned.pins, missingNamespaces, ...(routeSubdomain ? { routeSubdomain } : {}) };
}

/** A device's bytes cannot become files, nor files a device: the copy keeps the volume mode. */
function checkTargetVolumeMode(at: string, key: string, source: VolumeMode, target: VolumeMode | undefined): void {
  if (target === undefined || target === source) return;
  throw new ConfigError(
    `${at}.targetVolumeMode: ${target}, but source PVC ${key} is a ${source} volume; dvm copies a volume in its own mode (leave targetVolumeMode out)`,
  );
}

async function read(cluster: Clusters['source'], kind: string, namespace: string | undefined, name: string, role: string): Promise<Obj | undefined> {
  try {
    return await readObject(cluster, { apiVersion: 'v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
  } catch (error) {
    throw new ConfigError(`reading ${kind} ${namespace ? `${namespace}/` : ''}${name} on the ${role} cluster failed: ${describeApiError(error)}`);
  }
}
