// A test world: a source and a destination fake cluster, each with its pod runner, sharing DNS and
// the loopback network, with PVC directories under one temp root and a kubeconfig for each.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { kubeconfigFor, startFakeCluster, type FakeCluster, type FakeClusterOptions } from '../fake-apiserver/index.js';
import type { KubeObject } from '../fake-apiserver/store.js';
import { FakeDns, startPodRunner, type PodRunner, type PodRunnerOptions } from './index.js';

export interface TwoClusters {
  root: string;
  dns: FakeDns;
  source: FakeCluster;
  destination: FakeCluster;
  sourceRunner: PodRunner;
  destinationRunner: PodRunner;
  /** One kubeconfig with contexts "source" and "destination". */
  mergedKubeconfig: string;
  pvcDir(side: 'source' | 'destination', namespace: string, name: string): string;
  /** A namespace and a Bound PVC on the source, with its directory. */
  seedSourcePvc(namespace: string, name: string, options?: { storage?: string; accessModes?: string[]; storageClassName?: string }): string;
  seedNamespace(side: 'source' | 'destination', namespace: string): void;
  close(): Promise<void>;
}

export interface TwoClustersOptions {
  source?: Partial<FakeClusterOptions>;
  destination?: Partial<FakeClusterOptions>;
  runner?: Partial<Omit<PodRunnerOptions, 'dns' | 'pvcRoot'>>;
}

export async function startTwoClusters(options: TwoClustersOptions = {}): Promise<TwoClusters> {
  const root = mkdtempSync(join(tmpdir(), 'dvm-two-clusters-'));
  const dns = new FakeDns();
  const source = await startFakeCluster({ name: 'source', ...options.source });
  const destination = await startFakeCluster({ name: 'destination', ...options.destination });
  const pvcRoot = (side: string) => join(root, side);
  const sourceRunner = startPodRunner(source, { dns, pvcRoot: pvcRoot('source'), ...options.runner });
  const destinationRunner = startPodRunner(destination, { dns, pvcRoot: pvcRoot('destination'), ...options.runner });
  const mergedKubeconfig = join(root, 'kubeconfig');
  writeFileSync(
    mergedKubeconfig,
    toYaml(kubeconfigFor([source, destination].map((cluster) => ({ name: cluster.name, url: cluster.url, token: cluster.token, caPem: cluster.caPem })))),
    { mode: 0o600 },
  );
  const clusterOf = (side: 'source' | 'destination') => (side === 'source' ? source : destination);
  const seedNamespace = (side: 'source' | 'destination', namespace: string) => {
    const cluster = clusterOf(side);
    if (!cluster.api.store.get({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }, undefined, namespace)) {
      cluster.seed({ kind: 'Namespace', metadata: { name: namespace }, status: { phase: 'Active' } });
    }
  };
  return {
    root,
    dns,
    source,
    destination,
    sourceRunner,
    destinationRunner,
    mergedKubeconfig,
    pvcDir: (side, namespace, name) => join(pvcRoot(side), namespace, name),
    seedNamespace,
    seedSourcePvc: (namespace, name, pvc = {}) => {
      seedNamespace('source', namespace);
      const storage = pvc.storage ?? '1Gi';
      const object: KubeObject = {
        kind: 'PersistentVolumeClaim',
        metadata: { name, namespace },
        spec: {
          accessModes: pvc.accessModes ?? ['ReadWriteOnce'],
          resources: { requests: { storage } },
          volumeMode: 'Filesystem',
          ...(pvc.storageClassName ? { storageClassName: pvc.storageClassName } : {}),
        },
        status: { phase: 'Bound', capacity: { storage }, accessModes: pvc.accessModes ?? ['ReadWriteOnce'] },
      };
      source.seed(object);
      const directory = join(pvcRoot('source'), namespace, name);
      mkdirSync(directory, { recursive: true });
      return directory;
    },
    close: async () => {
      await sourceRunner.stop();
      await destinationRunner.stop();
      await source.close();
      await destination.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
