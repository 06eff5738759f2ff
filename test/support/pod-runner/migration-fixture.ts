// Helpers the controller's end-to-end tests share: seed PVCs with generated trees, connect the
// controller to the fake clusters, and check what is left.
import type { Clusters } from '../../../controller/migration/context.js';
import { connectClusters } from '../../../controller/index.js';
import { compareTrees, formatDifferences, generateTree } from '../tree.js';
import type { TwoClusters } from './two-clusters.js';

export type PvcRef = [namespace: string, name: string];

/** Source PVCs with distinct generated trees (a few hundred KiB each unless told otherwise). */
export async function seedPvcs(
  world: TwoClusters,
  pvcs: PvcRef[],
  options: { files?: number; maxFileBytes?: number; bigFileBytes?: number } = {},
): Promise<void> {
  for (const [index, [namespace, name]] of pvcs.entries()) {
    const directory = world.seedSourcePvc(namespace, name);
    await generateTree(directory, {
      files: options.files ?? 40,
      seed: 100 + index + namespace.length * 7,
      maxFileBytes: options.maxFileBytes ?? 48 * 1024,
      bigFileBytes: options.bigFileBytes ?? 0,
    });
  }
}

export function destinationNamespaces(world: TwoClusters, pvcs: PvcRef[]): void {
  for (const namespace of new Set(pvcs.map(([namespace]) => namespace))) world.seedNamespace('destination', namespace);
}

export function clustersOf(world: TwoClusters): Clusters {
  return connectClusters({
    source: { kubeconfig: world.mergedKubeconfig, context: 'source' },
    destination: { kubeconfig: world.mergedKubeconfig, context: 'destination' },
  });
}

export function specFor(pvcs: PvcRef[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { persistentVolumeClaims: pvcs.map(([namespace, name]) => ({ namespace, name })), ...extra };
}

/** "" when every destination tree equals its source, else what differs. */
export async function treeDifferences(world: TwoClusters, pvcs: PvcRef[]): Promise<string> {
  const problems: string[] = [];
  for (const [namespace, name] of pvcs) {
    const differences = await compareTrees(world.pvcDir('source', namespace, name), world.pvcDir('destination', namespace, name));
    if (differences.length > 0) problems.push(`${namespace}/${name}: ${formatDifferences(differences)}`);
  }
  return problems.join('\n');
}

/** Objects dvm labelled (any run) still on either cluster. */
export function labelledLeft(world: TwoClusters): string[] {
  return [...world.source.labelled('owner=directvolumemigration'), ...world.destination.labelled('owner=directvolumemigration')].map(
    (object) => `${object.kind} ${object.metadata.namespace}/${object.metadata.name}`,
  );
}

/** Every write the fake API servers received so far. */
export function writeCount(world: TwoClusters): number {
  return world.source.writes().length + world.destination.writes().length;
}
