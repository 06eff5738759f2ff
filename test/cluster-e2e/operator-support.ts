// What the real-cluster tests of `dvm controller` share: the shipped CRDs applied, the controller as
// a host process (the built CLI, a kubeconfig, its own namespace for DirectVolumeMigrations and the
// Lease), DirectVolumeMigrations applied the way a user applies them, and a recorder of every
// version of their DirectVolumeMigrationProgress resources as a watch delivers them.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import type { KubeObject, TestCluster } from '../support/cluster.js';
import { AGENT_IMAGE, type Pair } from './support.js';

const DVM_CLI = resolve('dist/controller/cli/dvm.js');
export const DEPLOY_DIR = resolve('deploy');

/** Every document of a shipped manifest file. */
export function shippedManifests(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(resolve(DEPLOY_DIR, file), 'utf8'))
    .map((doc) => doc.toJSON() as KubeObject)
    .filter(Boolean);
}

/** The CRDs exactly as shipped (cluster-scoped: idempotent for every test file). */
export async function installCrds(cluster: TestCluster): Promise<void> {
  await cluster.kubectl(['apply', '-f', resolve(DEPLOY_DIR, 'crds')]);
  await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/directvolumemigrations.migration.openshift.io',
    'crd/directvolumemigrationprogresses.migration.openshift.io',
  ]);
}

export interface ControllerProcess {
  child: ChildProcess;
  lines: string[];
  /** The progress server's URL (when started with listen). */
  progressUrl(): Promise<string>;
  exited: Promise<number>;
  /** Resolves with the first log line that matches. */
  waitForLine(match: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait (graceful); kill('SIGKILL') for a crash. */
  stop(): Promise<number>;
}

export interface ControllerOptions {
  kubeconfig: string;
  /** Where its DirectVolumeMigrations and its Lease are. */
  namespace: string;
  settings: string;
  identity?: string;
  listen?: boolean;
  extraArgs?: string[];
}

export function startControllerProcess(t: Test, options: ControllerOptions): ControllerProcess {
  const child = spawn(
    process.execPath,
    [
      DVM_CLI,
      'controller',
      '--kubeconfig',
      options.kubeconfig,
      '--settings',
      options.settings,
      '--namespace',
      options.namespace,
      '--lease-namespace',
      options.namespace,
      // Short lease: a killed leader's successor takes over within seconds.
      '--lease-duration',
      '6',
      '--renew-deadline',
      '4',
      '--retry-period',
      '1',
      ...(options.identity ? ['--identity', options.identity] : []),
      ...(options.listen ? ['--listen', '127.0.0.1:0'] : []),
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DVM_LOG_LEVEL: 'debug' } },
  );
  const lines: string[] = [];
  const waiters: Array<{ match: RegExp; resolve: (line: string) => void }> = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? (signal ? 128 : 1))));
  const waitForLine = (match: RegExp, timeoutMs = 60_000) => {
    const seen = lines.find((line) => match.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolveLine, reject) => {
      const timer = setTimeout(() => reject(new Error(`controller never logged ${match}; last lines: ${lines.slice(-5).join(' | ')}`)), timeoutMs);
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolveLine(line);
        },
      });
    });
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    child,
    lines,
    progressUrl: () => waitForLine(/^progress: http/).then((line) => line.slice('progress: '.length).trim()),
    exited,
    waitForLine,
    stop,
  };
}

export function settingsFor(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'migration.openshift.io/v1alpha1',
    kind: 'MigrationController',
    spec: { rsync_transfer_image_fqin: AGENT_IMAGE, rsync_server_ready_timeout_seconds: 120, rsync_endpoint_type: 'ClusterIP', rsync_fs_group: 2000, ...extra },
  };
}

export function dvmManifest(namespace: string, name: string, pairs: Pair[], extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'migration.openshift.io/v1alpha1',
    kind: 'DirectVolumeMigration',
    metadata: { name, namespace },
    spec: { persistentVolumeClaims: pairs.map((pair) => ({ ...pair, targetName: pair.targetName ?? pair.name })), ...extra },
  };
}

export async function getDvm(cluster: TestCluster, namespace: string, name: string): Promise<KubeObject | undefined> {
  try {
    return await cluster.kubectlJson(['get', 'directvolumemigration', name, '-n', namespace]);
  } catch (error) {
    if (/NotFound|not found/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** Polls until check() says something (or the time is up; then the last status is in the error). */
export async function waitForDvm(
  cluster: TestCluster,
  namespace: string,
  name: string,
  check: (dvm: KubeObject) => boolean,
  timeoutMs = 150_000,
): Promise<KubeObject> {
  const deadline = Date.now() + timeoutMs;
  let last: KubeObject | undefined;
  for (;;) {
    last = await getDvm(cluster, namespace, name);
    if (last && check(last)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `DirectVolumeMigration ${namespace}/${name}: not as expected within ${timeoutMs} ms; status ${JSON.stringify(last?.status ?? null).slice(0, 1500)}`,
      );
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 500));
  }
}

export const phaseIs =
  (...phases: string[]) =>
  (dvm: KubeObject) =>
    phases.includes(dvm.status?.phase);

export interface ProgressVersion {
  at: number;
  name: string;
  pvc: string;
  status: KubeObject;
  resourceVersion: string;
}

/** Every version of every DirectVolumeMigrationProgress in a namespace, in arrival order. */
export async function recordProgress(t: Test, cluster: TestCluster, namespace: string): Promise<{ versions: ProgressVersion[]; stop: () => void }> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const versions: ProgressVersion[] = [];
  const controller = await new k8s.Watch(kc).watch(
    `/apis/migration.openshift.io/v1alpha1/namespaces/${namespace}/directvolumemigrationprogresses`,
    {},
    (type, object: KubeObject) => {
      if (type !== 'ADDED' && type !== 'MODIFIED') return;
      versions.push({
        at: Date.now(),
        name: object.metadata.name,
        pvc: `${object.spec?.pvcRef?.namespace}/${object.spec?.pvcRef?.name}`,
        status: object.status ?? {},
        resourceVersion: object.metadata.resourceVersion,
      });
    },
    () => undefined,
  );
  const stop = () => controller.abort();
  t.teardown(stop);
  return { versions, stop };
}

/** Status versions of one PVC's DVMP that carry a status (the created object has none). */
export function statusesOf(versions: ProgressVersion[], pvc: string): ProgressVersion[] {
  return versions.filter((version) => version.pvc === pvc && version.status.lastUpdateTime !== undefined);
}

/** The shortest time between two status writes of one DVMP, by the controller's own lastUpdateTime. */
export function shortestWriteInterval(statuses: ProgressVersion[]): number {
  const times = [...new Set(statuses.map((version) => Date.parse(version.status.lastUpdateTime as string)))].sort((a, b) => a - b);
  let shortest = Number.POSITIVE_INFINITY;
  for (let index = 1; index < times.length; index += 1) shortest = Math.min(shortest, times[index]! - times[index - 1]!);
  return shortest;
}

/** The shipped ServiceAccount, ClusterRole, Role and bindings, moved into `namespace` (the bindings
 * renamed after it, so test files never share one); the rules exactly as shipped. Returns a
 * kubeconfig with a token of that ServiceAccount, minted by the API server. */
export async function shippedRbacKubeconfig(t: Test, cluster: TestCluster, namespace: string, dir: string): Promise<string> {
  const objects = ['service-account.yaml', 'cluster-role.yaml', 'cluster-role-binding.yaml', 'role.yaml', 'role-binding.yaml']
    .flatMap((file) => shippedManifests(`rbac/${file}`))
    .map((object) => {
      const moved = structuredClone(object);
      if (moved.metadata.namespace) moved.metadata.namespace = namespace;
      if (moved.kind === 'ClusterRoleBinding') moved.metadata.name = `dvm-controller-${namespace}`;
      for (const subject of moved.subjects ?? []) subject.namespace = namespace;
      return moved;
    });
  await cluster.apply(objects);
  t.teardown(() => cluster.kubectl(['delete', 'clusterrolebinding', `dvm-controller-${namespace}`, '--ignore-not-found']));
  const serviceAccount = objects.find((object) => object.kind === 'ServiceAccount')!.metadata.name as string;
  const token = (await cluster.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=1h'])).trim();
  const admin = parseAllDocuments(readFileSync(cluster.kubeconfig, 'utf8'))[0]!.toJSON() as KubeObject;
  const caData = admin.clusters[0].cluster['certificate-authority-data'] as string;
  const path = `${dir}/sa.kubeconfig`;
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'sa',
      clusters: [{ name: 'test', cluster: { server: cluster.apiServer, 'certificate-authority-data': caData } }],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'test', user: 'sa', namespace } }],
    }),
    { mode: 0o600 },
  );
  return path;
}

/** Pods, Secrets, Services of the controller's runs left anywhere (cluster-wide, by owner label). */
export async function transferObjectsOf(cluster: TestCluster, runId: string): Promise<string[]> {
  const text = await cluster.kubectl(['get', 'pods,secrets,services', '-A', '-l', `directvolumemigration=${runId}`, '-o', 'name']);
  return text.split('\n').filter(Boolean);
}

export interface PodRecord {
  /** Client pods ever created, per PVC name (the created-for-pvc label), with when they appeared. */
  created: Map<string, Array<{ name: string; at: number }>>;
  /** The most client pods of one PVC that existed at once (terminating ones count: rsync may still run in them). */
  maxAtOnce: Map<string, number>;
}

/** Every client pod of dvm in a namespace, as a watch sees them come and go. */
export async function recordClientPods(t: Test, cluster: TestCluster, namespace: string): Promise<PodRecord> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const record: PodRecord = { created: new Map(), maxAtOnce: new Map() };
  const existing = new Map<string, Set<string>>();
  const controller = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    { labelSelector: 'migration.openshift.io/created-for-pvc' },
    (type, pod: KubeObject) => {
      const pvc = pod.metadata.labels['migration.openshift.io/created-for-pvc'] as string;
      const names = existing.get(pvc) ?? new Set<string>();
      existing.set(pvc, names);
      if (type === 'DELETED') {
        names.delete(pod.metadata.name);
        return;
      }
      if (type !== 'ADDED' || names.has(pod.metadata.name)) return;
      names.add(pod.metadata.name);
      record.created.set(pvc, [...(record.created.get(pvc) ?? []), { name: pod.metadata.name, at: Date.now() }]);
      record.maxAtOnce.set(pvc, Math.max(record.maxAtOnce.get(pvc) ?? 0, names.size));
    },
    () => undefined,
  );
  t.teardown(() => controller.abort());
  return record;
}
