// What the real-cluster end-to-end tests share: a run of `dvm migrate -f` as a user runs it (the
// CLI, with the admin kubeconfig of test/cluster for both sides), source PVCs filled on the host
// through their volumes' directories, and tree comparisons of source and destination volumes.
import { spawn, type ChildProcess } from 'node:child_process';
import { lchownSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify as toYaml } from 'yaml';
import type { ControllerEvent } from '../../controller/migration/events.js';
import type { Test } from 'tap';
import { testCluster, type PodSecurityLevel, type TestCluster } from '../support/cluster.js';
import { compareTrees, formatDifferences, generateTree, type CompareOptions, type TreeOptions } from '../support/tree.js';

export const AGENT_IMAGE = process.env.DVM_AGENT_IMAGE ?? 'localhost/dvm-agent:dev';
/** images/build.sh --controller: what deploy/controller/deployment.yaml runs. */
export const CONTROLLER_IMAGE = process.env.DVM_CONTROLLER_IMAGE ?? 'localhost/dvm-controller:dev';
/** The image's user: a non-root client reads what this uid can read. */
export const IMAGE_UID = 1001;
const DVM = resolve('dist/controller/cli/dvm.js');

/** The cluster, or the reason the real-cluster tests cannot run (then they are skipped). */
export async function e2eCluster(): Promise<{ cluster: TestCluster } | { skip: string }> {
  const cluster = await testCluster();
  if (!cluster) return { skip: 'the test cluster is not up (test/cluster/up.sh)' };
  if (!(await cluster.hasImage(AGENT_IMAGE))) return { skip: `the agent image ${AGENT_IMAGE} is not in the cluster (images/build.sh --import)` };
  return { cluster };
}

let sequence = 0;
/** A short unique name for this test's namespaces. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}${(++sequence).toString(36)}`;
}

export interface SourcePvcOptions extends TreeOptions {
  size?: string;
  /** chown the whole tree to this uid:gid (what an application running as that user wrote). */
  chownTo?: number;
}

export async function createPvc(cluster: TestCluster, namespace: string, name: string, size = '1Gi'): Promise<string> {
  await cluster.apply({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, storageClassName: cluster.storageClass },
  });
  return (await cluster.waitForPvcBound(namespace, name)).hostPath;
}

/** A bound source PVC holding a generated tree; returns the tree's directory on this host. */
export async function sourcePvc(cluster: TestCluster, namespace: string, name: string, options: SourcePvcOptions = {}): Promise<string> {
  const hostPath = await createPvc(cluster, namespace, name, options.size);
  await generateTree(hostPath, { files: 60, maxFileBytes: 32 * 1024, ...options });
  if (options.chownTo !== undefined) chownTree(hostPath, options.chownTo, options.chownTo);
  return hostPath;
}

export function chownTree(root: string, uid: number, gid: number): void {
  lchownSync(root, uid, gid);
  for (const entry of readdirSync(root)) {
    const path = join(root, entry);
    if (lstatSync(path).isDirectory()) chownTree(path, uid, gid);
    else lchownSync(path, uid, gid);
  }
}

export async function namespaces(cluster: TestCluster, level: PodSecurityLevel, ...names: string[]): Promise<void> {
  for (const name of names) await cluster.createNamespace(name, level);
}

export interface Pair {
  namespace: string;
  name: string;
  targetNamespace: string;
  targetName?: string;
}

export function specFile(dir: string, pairs: Pair[], extra: Record<string, unknown> = {}): string {
  const path = join(dir, 'dvm.yaml');
  writeFileSync(
    path,
    toYaml({
      apiVersion: 'migration.openshift.io/v1alpha1',
      kind: 'DirectVolumeMigration',
      spec: { persistentVolumeClaims: pairs.map((pair) => ({ ...pair, targetName: pair.targetName ?? pair.name })), ...extra },
    }),
  );
  return path;
}

/** A one-line secret in a 0600 file, as --proxy-file and --token-file read it. */
export function secretFile(dir: string, name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return path;
}

export function settingsFile(dir: string, settings: Record<string, unknown>): string {
  const path = join(dir, 'migrationcontroller.yaml');
  writeFileSync(
    path,
    toYaml({
      apiVersion: 'migration.openshift.io/v1alpha1',
      kind: 'MigrationController',
      spec: { rsync_transfer_image_fqin: AGENT_IMAGE, rsync_server_ready_timeout_seconds: 120, ...settings },
    }),
  );
  return path;
}

export interface DvmRun {
  child: ChildProcess;
  events: ControllerEvent[];
  stderr: string[];
  done: Promise<{ code: number }>;
  /** Resolves with the first event that matches. */
  waitFor(match: (event: ControllerEvent) => boolean): Promise<ControllerEvent>;
}

/** `dvm migrate -f SPEC --settings S --json` against the test cluster on both sides. */
export function migrate(cluster: TestCluster, spec: string, settings: string, extraArgs: string[] = []): DvmRun {
  const child = spawn(
    process.execPath,
    [
      DVM,
      'migrate',
      '-f',
      spec,
      '--settings',
      settings,
      '--source-kubeconfig',
      cluster.kubeconfig,
      '--destination-kubeconfig',
      cluster.kubeconfig,
      '--json',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: ControllerEvent[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ match: (event: ControllerEvent) => boolean; resolve: (event: ControllerEvent) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let event: ControllerEvent;
    try {
      event = JSON.parse(line) as ControllerEvent;
    } catch {
      return;
    }
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.match(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const done = new Promise<{ code: number }>((resolveDone) => child.once('close', (code, signal) => resolveDone({ code: code ?? (signal ? 128 : 1) })));
  return {
    child,
    events,
    stderr,
    done,
    waitFor: (match) => {
      const seen = events.find(match);
      return seen ? Promise.resolve(seen) : new Promise((resolveWait) => waiters.push({ match, resolve: resolveWait }));
    },
  };
}

export function resultsOf(run: DvmRun): Record<string, { status: string; message: string; verified: boolean | null }> {
  return Object.fromEntries(
    run.events
      .filter((event): event is Extract<ControllerEvent, { type: 'result' }> => event.type === 'result')
      .map((event) => [event.pvc, { status: event.status, message: event.message, verified: event.verified }]),
  );
}

/** What went wrong, for assertion messages: the last stderr lines and every non-success result. */
export function explain(run: DvmRun): string {
  const failed = Object.entries(resultsOf(run))
    .filter(([, result]) => result.status !== 'Succeeded')
    .map(([pvc, result]) => `${pvc}: ${result.message}`);
  return [...failed, ...run.stderr.slice(-5)].join(' | ').slice(0, 1500);
}

/** "" when the trees are equal. */
export async function differences(source: string, destination: string, options: CompareOptions = {}): Promise<string> {
  return formatDifferences(await compareTrees(source, destination, options));
}

export function workDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-e2e-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Scenario {
  work: { dir: string; remove: () => void };
  /** Source and destination namespaces, enforcing the test's Pod Security level. */
  src: string;
  dst: string;
}

/** A work directory and a fresh pair of namespaces, all removed when the test ends. */
export async function scenario(t: Test, cluster: TestCluster, prefix: string, level: PodSecurityLevel = 'restricted'): Promise<Scenario> {
  const work = workDir();
  const src = uniqueName(`${prefix}-src`);
  const dst = uniqueName(`${prefix}-dst`);
  await namespaces(cluster, level, src, dst);
  t.teardown(async () => {
    work.remove();
    await Promise.all([cluster.deleteNamespace(src, false), cluster.deleteNamespace(dst, false)]);
  });
  return { work, src, dst };
}

/** Objects any dvm run left labelled in these namespaces. */
export async function leftovers(cluster: TestCluster, ...names: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const namespace of names) {
    const text = await cluster.kubectl([
      'get',
      'pods,secrets,services,routes.route.openshift.io',
      '-n',
      namespace,
      '-l',
      'owner=directvolumemigration',
      '-o',
      'name',
    ]);
    found.push(
      ...text
        .split('\n')
        .filter(Boolean)
        .map((line) => `${namespace}/${line}`),
    );
  }
  return found;
}
