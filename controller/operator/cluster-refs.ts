// The clusters of one DirectVolumeMigration: the controller's own, or one from a kubeconfig held in a
// Secret. A kubeconfig from a Secret is data written by whoever may write Secrets in that namespace,
// so it may carry credentials only inline: no exec plugin or auth provider (a command the controller
// would run), no file paths (files of the controller's own pod: a `token-file` naming the pod's
// ServiceAccount token would send the controller's own credentials to the kubeconfig's server).
// The raw YAML is checked before the client library loads it, since loading already reads token
// files. Errors name the Secret and the field, never its content.
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { describeApiError, isNotFound } from '../cluster/api-error.js';
import { connectCluster, type Cluster, type ClusterRole } from '../cluster/connection.js';
import type { Clusters } from '../migration/context.js';
import type { ClusterSource, ParsedDvm } from './dvm-spec.js';

export class ClusterRefError extends Error {
  override readonly name = 'ClusterRefError';
  /** A missing or unusable Secret is the user's to fix; an API failure is worth retrying. */
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const FIELD: Record<ClusterRole, string> = { source: 'spec.srcMigClusterRef', destination: 'spec.destMigClusterRef' };

export async function connectDvmClusters(local: Cluster, parsed: Pick<ParsedDvm, 'source' | 'destination'>): Promise<Clusters> {
  return {
    source: await connectSource(local, parsed.source, 'source'),
    destination: await connectSource(local, parsed.destination, 'destination'),
  };
}

async function connectSource(local: Cluster, source: ClusterSource, role: ClusterRole): Promise<Cluster> {
  if (source.kind === 'Local') return connectCluster({ kubeConfig: local.kc }, role);
  const text = await readKubeconfig(local, source, role);
  const kc = new k8s.KubeConfig();
  const where = `${FIELD[role]}: Secret ${source.namespace}/${source.name} key ${source.key}`;
  try {
    refuseIndirections(parseYaml(text), where);
    kc.loadFromString(text);
  } catch (error) {
    if (error instanceof ClusterRefError) throw error;
    // The parsers' messages quote the text: they stay out of conditions and logs.
    throw new ClusterRefError(`${where}: not a valid kubeconfig`, false);
  }
  if (!kc.getCurrentUser() || !kc.getCurrentCluster())
    throw new ClusterRefError(`${where}: the kubeconfig has no current context with a cluster and a user`, false);
  try {
    return connectCluster({ kubeConfig: kc }, role);
  } catch (error) {
    throw new ClusterRefError(`${where}: ${(error as Error).message}`, false);
  }
}

async function readKubeconfig(local: Cluster, source: Extract<ClusterSource, { kind: 'Secret' }>, role: ClusterRole): Promise<string> {
  let secret: k8s.V1Secret;
  try {
    secret = await local.core.readNamespacedSecret({ name: source.name, namespace: source.namespace });
  } catch (error) {
    if (isNotFound(error)) throw new ClusterRefError(`${FIELD[role]}: Secret ${source.namespace}/${source.name} not found`, false);
    throw new ClusterRefError(`${FIELD[role]}: reading Secret ${source.namespace}/${source.name}: ${describeApiError(error)}`, true);
  }
  const data = secret.data?.[source.key];
  if (data === undefined) throw new ClusterRefError(`${FIELD[role]}: Secret ${source.namespace}/${source.name} has no key ${source.key}`, false);
  return Buffer.from(data, 'base64').toString('utf8');
}

/** kubeconfig keys that make the client run a command or read a file. */
const REFUSED_USER_KEYS = ['exec', 'auth-provider', 'token-file', 'tokenFile', 'client-certificate', 'client-key'];
const REFUSED_CLUSTER_KEYS = ['certificate-authority'];

function refuseIndirections(raw: unknown, where: string): void {
  const doc = (typeof raw === 'object' && raw !== null ? raw : {}) as { users?: unknown; clusters?: unknown };
  const entries = (list: unknown, field: string) =>
    (Array.isArray(list) ? list : []).map((entry) => ((entry as Record<string, unknown> | null)?.[field] ?? {}) as Record<string, unknown>);
  for (const user of entries(doc.users, 'user')) {
    const key = REFUSED_USER_KEYS.find((name) => user[name] !== undefined && user[name] !== null && user[name] !== '');
    if (key)
      throw new ClusterRefError(
        `${where}: users[].user.${key} is not allowed in a kubeconfig from a Secret (credentials must be inline: token, client-certificate-data, certificate-authority-data)`,
        false,
      );
  }
  for (const cluster of entries(doc.clusters, 'cluster')) {
    const key = REFUSED_CLUSTER_KEYS.find((name) => cluster[name] !== undefined && cluster[name] !== null && cluster[name] !== '');
    if (key)
      throw new ClusterRefError(`${where}: clusters[].cluster.${key} is not allowed in a kubeconfig from a Secret (use certificate-authority-data)`, false);
  }
}
