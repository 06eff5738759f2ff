// The migration spec, shaped like MTC's DirectVolumeMigration `spec`: which PVCs go where.
import { z } from 'zod';
import { ConfigError } from './errors.js';

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (lowercase letters, digits, -; at most 63)');
const dnsSubdomain = z
  .string()
  .max(253, 'must be at most 253 characters')
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS subdomain (lowercase letters, digits, - and .)');
const accessMode = z.enum(['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']);

const pvcToMigrate = z
  .object({
    name: dnsSubdomain,
    namespace: dnsLabel,
    targetName: dnsSubdomain.optional(),
    targetNamespace: dnsLabel.optional(),
    targetStorageClass: z.string().optional(),
    targetAccessModes: z.array(accessMode).min(1).optional(),
    targetVolumeMode: z.enum(['Filesystem', 'Block']).optional(),
    verify: z.boolean().default(false),
    // ObjectReference fields MTC writes; accepted and unused.
    kind: z.string().optional(),
    apiVersion: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    fieldPath: z.string().optional(),
  })
  .strict();

export const migrationSpecSchema = z
  .object({
    persistentVolumeClaims: z.array(pvcToMigrate).min(1, 'needs at least one PVC'),
    createDestinationNamespaces: z.boolean().default(false),
    backOffLimit: z.number().int().min(0, 'must not be negative').default(2),
    migrationType: z.enum(['Stage', 'CutOver']).default('Stage'),
    // MTC 1.7's quiescePods: scale the source PVCs' applications down before a CutOver's copy
    // (controller/migration/quiesce.ts).
    quiescePods: z.boolean().default(false),
    // MTC references, accepted and unused here (the caller hands us the clusters).
    srcMigClusterRef: z.unknown().optional(),
    destMigClusterRef: z.unknown().optional(),
    migrationRef: z.unknown().optional(),
    deleteProgressReportingCRs: z.boolean().optional(),
    liveMigrate: z.boolean().optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    // A Stage copy runs while the applications write: stopping them is what a CutOver is for.
    if (spec.quiescePods && spec.migrationType !== 'CutOver') {
      ctx.addIssue({ code: 'custom', path: ['quiescePods'], message: 'only with migrationType: CutOver' });
    }
    const sources = new Map<string, number>();
    const targets = new Map<string, number>();
    spec.persistentVolumeClaims.forEach((pvc, index) => {
      const source = `${pvc.namespace}/${pvc.name}`;
      const target = `${pvc.targetNamespace ?? pvc.namespace}/${pvc.targetName ?? pvc.name}`;
      const seenSource = sources.get(source);
      if (seenSource !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['persistentVolumeClaims', index, 'name'], message: `duplicate source PVC ${source} (also entry ${seenSource})` });
      }
      const seenTarget = targets.get(target);
      if (seenTarget !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['persistentVolumeClaims', index, 'targetName'],
          message: `duplicate target PVC ${target} (also entry ${seenTarget})`,
        });
      }
      sources.set(source, index);
      targets.set(target, index);
    });
  });

export type MigrationSpec = z.infer<typeof migrationSpecSchema>;
export type MigrationSpecInput = z.input<typeof migrationSpecSchema>;
export type PvcToMigrate = MigrationSpec['persistentVolumeClaims'][number];

/** A PVC with its target filled in: what every later stage works with. */
export interface PvcPair {
  source: { namespace: string; name: string };
  target: { namespace: string; name: string };
  targetStorageClass?: string;
  targetAccessModes?: string[];
  targetVolumeMode?: 'Filesystem' | 'Block';
  verify: boolean;
}

export function pvcPairs(spec: MigrationSpec): PvcPair[] {
  return spec.persistentVolumeClaims.map((pvc) => ({
    source: { namespace: pvc.namespace, name: pvc.name },
    target: { namespace: pvc.targetNamespace ?? pvc.namespace, name: pvc.targetName ?? pvc.name },
    ...(pvc.targetStorageClass !== undefined ? { targetStorageClass: pvc.targetStorageClass } : {}),
    ...(pvc.targetAccessModes !== undefined ? { targetAccessModes: pvc.targetAccessModes } : {}),
    ...(pvc.targetVolumeMode !== undefined ? { targetVolumeMode: pvc.targetVolumeMode } : {}),
    verify: pvc.verify,
  }));
}

/** When source and destination are one cluster, a target that is also a source (the PVC itself,
 * or another entry's source) would be written while it is read: refused, naming the entry's key.
 * Between two clusters a PVC keeps its name, so the schema cannot refuse this; the caller does, once
 * it knows both clusters are the same API server (preflight: `checkSameClusterPairs(plan.clients.map(
 * (client) => client.pair))`). Two entries into one target are refused by the schema on any clusters. */
export function checkSameClusterTargets(spec: MigrationSpec, label = 'spec'): void {
  checkSameClusterPairs(pvcPairs(spec), label);
}

export function checkSameClusterPairs(pairs: readonly PvcPair[], label = 'spec'): void {
  const sources = new Map<string, number>();
  pairs.forEach((pair, index) => sources.set(pvcKey(pair.source), index));
  pairs.forEach((pair, index) => {
    const target = pvcKey(pair.target);
    const source = sources.get(target);
    if (source === undefined) return;
    const what = source === index ? 'the PVC itself' : `the source of entry ${source}`;
    throw new ConfigError(
      `${label}: persistentVolumeClaims.${index}.targetName: target PVC ${target} is ${what} on the same cluster (set targetName or targetNamespace to a PVC the run does not read)`,
    );
  });
}

/** "namespace/name": how a PVC is named in events and summaries. */
export function pvcKey(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}
