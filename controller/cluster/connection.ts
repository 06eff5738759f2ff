// One connected cluster: the kubeconfig context and the API clients made from it. Loading follows
// kubeconfig conventions (explicit file, else $KUBECONFIG, else ~/.kube/config; the current context
// unless one is named).
import * as k8s from '@kubernetes/client-node';
import { ConfigError } from '../config/errors.js';
import { describeApiError } from './api-error.js';

export type ClusterRole = 'source' | 'destination';

export interface ClusterRef {
  kubeconfig?: string;
  context?: string;
  /** An already loaded config (library callers). */
  kubeConfig?: k8s.KubeConfig;
}

export interface Cluster {
  role: ClusterRole;
  kc: k8s.KubeConfig;
  server: string;
  objects: k8s.KubernetesObjectApi;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  networking: k8s.NetworkingV1Api;
}

export function connectCluster(ref: ClusterRef, role: ClusterRole): Cluster {
  const kc = ref.kubeConfig ?? loadKubeConfig(ref, role);
  if (ref.context !== undefined) {
    if (!kc.getContextObject(ref.context)) throw new ConfigError(`--${role}-context: no context "${ref.context}" in the kubeconfig`);
    kc.setCurrentContext(ref.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError(`${role} cluster: the kubeconfig has no current context/cluster (use --${role}-context)`);
  return {
    role,
    kc,
    server: cluster.server,
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    networking: kc.makeApiClient(k8s.NetworkingV1Api),
  };
}

function loadKubeConfig(ref: ClusterRef, role: ClusterRole): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (ref.kubeconfig !== undefined) kc.loadFromFile(ref.kubeconfig);
    else kc.loadFromDefault();
  } catch (error) {
    throw new ConfigError(`--${role}-kubeconfig ${ref.kubeconfig ?? '(default)'}: ${(error as Error).message.split('\n')[0]}`);
  }
  return kc;
}

/** Source and destination are one cluster (a migration between namespaces of one cluster): every
 * labelled object is then seen from both sides and must be counted once. */
export function isSameCluster(a: Cluster, b: Cluster): boolean {
  return a.server === b.server;
}

/** Fails with one line when the API server cannot be reached or refuses our credentials. */
export async function checkReachable(cluster: Cluster): Promise<void> {
  try {
    await cluster.kc.makeApiClient(k8s.VersionApi).getCode();
  } catch (error) {
    throw new ConfigError(`${cluster.role} cluster ${cluster.server} is unreachable: ${describeApiError(error)}`);
  }
}
