// A DirectVolumeMigration's spec, parsed: the migration spec `dvm migrate -f` takes (the same zod
// schema) and the two cluster references. What it refuses is one InvalidSpecError naming the field
// ("spec.persistentVolumeClaims.0.name: must be a DNS subdomain ..."), before anything is created.
import { z } from 'zod';
import { migrationSpecSchema, type MigrationSpec } from '../config/spec.js';
import type { DirectVolumeMigration } from './resources.js';

export class InvalidSpecError extends Error {
  override readonly name = 'InvalidSpecError';
}

/** Where a side's cluster comes from: the controller's own, or a kubeconfig in a Secret of the
 * DirectVolumeMigration's own namespace. */
export type ClusterSource = { kind: 'Local' } | { kind: 'Secret'; namespace: string; name: string; key: string };

export interface ParsedDvm {
  spec: MigrationSpec;
  source: ClusterSource;
  destination: ClusterSource;
}

const DEFAULT_KUBECONFIG_KEY = 'kubeconfig';

const clusterRefSchema = z
  .object({
    kind: z.string().optional(),
    apiVersion: z.string().optional(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    key: z
      .string()
      .regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key')
      .optional(),
  })
  .strict();

function firstIssue(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  const path = issue?.path.length ? `.${issue.path.join('.')}` : '';
  return `${prefix}${path}: ${issue?.message ?? 'invalid'}`;
}

/** A reference to a Secret elsewhere would let whoever may create a DirectVolumeMigration here make
 * the controller read a kubeconfig from a namespace they cannot read themselves. */
function clusterSource(raw: unknown, field: string, dvmNamespace: string): ClusterSource {
  if (raw === undefined || raw === null) return { kind: 'Local' };
  const parsed = clusterRefSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidSpecError(firstIssue(parsed.error, field));
  const ref = parsed.data;
  if (ref.kind === undefined && ref.name === undefined) return { kind: 'Local' };
  if (ref.kind !== 'Secret') {
    throw new InvalidSpecError(
      `${field}.kind: ${ref.kind ?? '(none)'} is not supported: name a Secret holding a kubeconfig (kind: Secret), or leave ${field} out for the controller's own cluster`,
    );
  }
  if (!ref.name) throw new InvalidSpecError(`${field}.name: the Secret's name is required`);
  if (ref.namespace !== undefined && ref.namespace !== dvmNamespace) {
    throw new InvalidSpecError(
      `${field}.namespace: the kubeconfig Secret must be in the DirectVolumeMigration's own namespace ${dvmNamespace} (got ${ref.namespace})`,
    );
  }
  return { kind: 'Secret', namespace: dvmNamespace, name: ref.name, key: ref.key ?? DEFAULT_KUBECONFIG_KEY };
}

export function parseDvm(dvm: DirectVolumeMigration): ParsedDvm {
  if (typeof dvm.spec !== 'object' || dvm.spec === null) throw new InvalidSpecError('spec: is required');
  const { srcMigClusterRef, destMigClusterRef, ...migration } = dvm.spec;
  const parsed = migrationSpecSchema.safeParse(migration);
  if (!parsed.success) throw new InvalidSpecError(firstIssue(parsed.error, 'spec'));
  return {
    spec: parsed.data,
    source: clusterSource(srcMigClusterRef, 'spec.srcMigClusterRef', dvm.metadata.namespace),
    destination: clusterSource(destMigClusterRef, 'spec.destMigClusterRef', dvm.metadata.namespace),
  };
}
