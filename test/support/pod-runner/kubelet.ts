// The kubelet part of the pod runner: runs each pod's one container as a local process
// (`dvm-agent ...` -> `node dist/agent/dvm-agent.js ...`), reports phase, pod IP, readiness, restarts, exit
// code and termination message in the pod status, streams its output as the pod log, and honours
// graceful deletion.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { FakeCluster } from '../fake-apiserver/index.js';
import { kindByName } from '../fake-apiserver/kinds.js';
import type { KubeObject } from '../fake-apiserver/store.js';
import type { FakeDns } from './dns.js';
import { httpGetOk, probePort } from './probe.js';
import { rewriteAgentConfig, rewritePath, type RewriteContext } from './rewrite.js';
import { materializeVolumes, VolumeNotReady } from './volumes.js';

const POD = kindByName('Pod');
const SECRET = kindByName('Secret');
const CONFIG_MAP = kindByName('ConfigMap');

export interface KubeletOptions {
  cluster: FakeCluster;
  dns: FakeDns;
  /** Absolute path of the built agent entry point. */
  agentMain: string;
  /** Root of PVC directories: <root>/<namespace>/<claim>. */
  pvcRoot: string;
  /** Test hook: change the agent config a pod gets (e.g. to make one PVC fail). */
  configHook?: (pod: KubeObject, config: Record<string, unknown>) => Record<string, unknown>;
  /** Where pod output goes besides the pod log (debugging). */
  echo?: (pod: string, chunk: Buffer) => void;
}

interface RunningPod {
  key: string;
  dir: string;
  ip?: string;
  child?: ChildProcess;
  restarts: number;
  deleting: boolean;
  probeTimer?: NodeJS.Timeout;
}

export class Kubelet {
  private readonly pods = new Map<string, RunningPod>();
  readonly nodeName: string;

  constructor(private readonly options: KubeletOptions) {
    this.nodeName = `${options.cluster.name}-node-1`;
  }

  private get store() {
    return this.options.cluster.api.store;
  }

  /** Called for every pod event (and for Secret events, to retry pods waiting on a mount). */
  sync(pod: KubeObject | undefined, key: string): void {
    const state = this.pods.get(key);
    if (!pod) {
      if (state) this.stop(state, 'deleted');
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      if (state && !state.deleting) this.stop(state, 'graceful');
      else if (!state) this.store.remove(POD, pod.metadata.namespace, pod.metadata.name);
      return;
    }
    if (!state) this.admit(pod, key);
  }

  retryPending(): void {
    for (const pod of this.store.list(POD)) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      const state = this.pods.get(key);
      if (state && !state.child && !state.deleting && pod.status?.phase === 'Pending') this.start(pod, state);
    }
  }

  private admit(pod: KubeObject, key: string): void {
    const state: RunningPod = { key, dir: mkdtempSync(join(tmpdir(), 'pod-')), restarts: 0, deleting: false };
    this.pods.set(key, state);
    this.store.mutate(POD, pod.metadata.namespace, pod.metadata.name, (current) => {
      current.spec.nodeName = this.nodeName;
      current.status.conditions = [{ type: 'PodScheduled', status: 'True' }];
      current.status.containerStatuses = [
        { name: current.spec.containers[0].name, ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
      ];
    });
    this.start(this.store.get(POD, pod.metadata.namespace, pod.metadata.name)!, state);
  }

  private start(pod: KubeObject, state: RunningPod): void {
    const container = pod.spec.containers[0];
    const namespace: string = pod.metadata.namespace;
    let mounts: Map<string, string>;
    try {
      mounts = materializeVolumes(pod, state.dir, {
        secret: (ns, name) => this.store.get(SECRET, ns, name),
        configMap: (ns, name) => this.store.get(CONFIG_MAP, ns, name),
        pvcDirectory: (ns, claim) => join(this.options.pvcRoot, ns, claim),
      });
    } catch (error) {
      if (error instanceof VolumeNotReady) return; // stays ContainerCreating; retried when Secrets appear
      throw error;
    }
    state.ip ??= this.options.cluster.network.allocatePodIp();
    const terminationFile = join(state.dir, 'termination-log');
    writeFileSync(terminationFile, '');
    const context: RewriteContext = {
      mounts: (container.volumeMounts ?? [])
        .map((mount: KubeObject) => [mount.mountPath, mounts.get(mount.name)!] as [string, string])
        .filter(([, local]: [string, string]) => local !== undefined)
        .sort((a: [string, string], b: [string, string]) => b[0].length - a[0].length),
      podIp: state.ip,
      terminationMessagePath: container.terminationMessagePath ?? '/dev/termination-log',
      terminationFile,
      resolveHost: (host) => this.options.dns.resolve(host),
    };
    const args = this.localArgs(pod, container.command ?? [], container.args ?? [], context, state);
    this.options.cluster.api.logs.start(namespace, pod.metadata.name);
    const child = spawn(process.execPath, [this.options.agentMain, ...args], {
      cwd: state.dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: state.dir,
        TMPDIR: mounts.get('tmp') ?? state.dir,
        DVM_LOG_LEVEL: process.env.DVM_LOG_LEVEL ?? 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    state.child = child;
    const onOutput = (chunk: Buffer) => {
      this.options.cluster.api.logs.append(namespace, pod.metadata.name, chunk);
      this.options.echo?.(pod.metadata.name, chunk);
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    this.store.mutate(POD, namespace, pod.metadata.name, (current) => {
      current.status.phase = 'Running';
      current.status.podIP = state.ip;
      current.status.podIPs = [{ ip: state.ip }];
      current.status.startTime ??= new Date().toISOString();
      current.status.conditions = [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Initialized', status: 'True' },
        { type: 'ContainersReady', status: 'False' },
        { type: 'Ready', status: 'False' },
      ];
      current.status.containerStatuses = [
        { name: container.name, ready: false, restartCount: state.restarts, started: true, state: { running: { startedAt: new Date().toISOString() } } },
      ];
    });
    this.probe(pod, container, state);
    child.on('exit', (code, signal) => this.exited(pod, state, code ?? 128 + signalNumber(signal), terminationFile));
  }

  /** `dvm-agent <args>` with the --config file rewritten for this machine. */
  private localArgs(pod: KubeObject, command: string[], args: string[], context: RewriteContext, state: RunningPod): string[] {
    const argv = [...command, ...args];
    if (argv[0] !== 'dvm-agent') throw new Error(`pod runner: ${pod.metadata.name} runs ${argv[0]}, only dvm-agent is supported`);
    const rest = argv.slice(1);
    const configAt = rest.findIndex((arg) => arg === '--config' || arg === '-c');
    if (configAt >= 0 && rest[configAt + 1]) {
      const original = rewritePath(rest[configAt + 1]!, context);
      let config = rewriteAgentConfig(parseYaml(readFileSync(original, 'utf8')), context) as Record<string, unknown>;
      if (this.options.configHook) config = this.options.configHook(pod, config);
      const local = join(state.dir, 'agent-local.yaml');
      writeFileSync(local, toYaml(config), { mode: 0o600 });
      rest[configAt + 1] = local;
    }
    return rest;
  }

  private probe(pod: KubeObject, container: KubeObject, state: RunningPod): void {
    const probe = container.readinessProbe?.httpGet;
    const markReady = () =>
      this.store.mutate(POD, pod.metadata.namespace, pod.metadata.name, (current) => {
        current.status.conditions = current.status.conditions.map((condition: KubeObject) =>
          condition.type === 'Ready' || condition.type === 'ContainersReady' ? { ...condition, status: 'True' } : condition,
        );
        current.status.containerStatuses[0].ready = true;
      });
    if (!probe) {
      markReady();
      return;
    }
    const port = probePort(container, probe.port);
    const attempt = async () => {
      if (!state.child || state.child.exitCode !== null || state.deleting) return;
      if (port !== undefined && (await httpGetOk(state.ip!, port, probe.path ?? '/'))) {
        if (state.child && state.child.exitCode === null && !state.deleting) markReady();
        return;
      }
      state.probeTimer = setTimeout(() => void attempt(), 200);
    };
    void attempt();
  }

  private exited(pod: KubeObject, state: RunningPod, exitCode: number, terminationFile: string): void {
    const namespace: string = pod.metadata.namespace;
    const name: string = pod.metadata.name;
    if (state.probeTimer) clearTimeout(state.probeTimer);
    state.child = undefined;
    this.options.cluster.api.logs.end(namespace, name);
    if (state.deleting) {
      this.finishDeletion(state, namespace, name);
      return;
    }
    let message = '';
    try {
      message = readFileSync(terminationFile, 'utf8').slice(0, 4096);
    } catch {
      // no message
    }
    const restart = pod.spec.restartPolicy === 'Always' || (pod.spec.restartPolicy === 'OnFailure' && exitCode !== 0);
    this.store.mutate(POD, namespace, name, (current) => {
      const terminated = { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: new Date().toISOString(), ...(message ? { message } : {}) };
      current.status.conditions = (current.status.conditions ?? []).map((condition: KubeObject) =>
        condition.type === 'Ready' || condition.type === 'ContainersReady' ? { ...condition, status: 'False' } : condition,
      );
      current.status.containerStatuses = [
        {
          name: current.spec.containers[0].name,
          ready: false,
          restartCount: state.restarts,
          ...(restart ? { lastState: { terminated }, state: { waiting: { reason: 'CrashLoopBackOff' } } } : { state: { terminated } }),
        },
      ];
      if (!restart) current.status.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    });
    if (restart) {
      state.restarts += 1;
      setTimeout(() => {
        const current = this.store.get(POD, namespace, name);
        if (current && !state.deleting && !current.metadata.deletionTimestamp) this.start(current, state);
      }, 500);
    }
  }

  private stop(state: RunningPod, why: 'deleted' | 'graceful'): void {
    state.deleting = true;
    if (state.probeTimer) clearTimeout(state.probeTimer);
    const [namespace, name] = state.key.split('/') as [string, string];
    if (state.child && state.child.exitCode === null) {
      state.child.kill('SIGTERM');
      const child = state.child;
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000).unref();
      return; // finishDeletion runs from the exit handler
    }
    if (why === 'graceful') this.finishDeletion(state, namespace, name);
    else this.forget(state);
  }

  private finishDeletion(state: RunningPod, namespace: string, name: string): void {
    if (this.store.get(POD, namespace, name)) this.store.remove(POD, namespace, name);
    this.forget(state);
  }

  private forget(state: RunningPod): void {
    this.pods.delete(state.key);
    rmSync(state.dir, { recursive: true, force: true });
  }

  async shutdown(): Promise<void> {
    const exits: Promise<void>[] = [];
    for (const state of this.pods.values()) {
      state.deleting = true;
      if (state.probeTimer) clearTimeout(state.probeTimer);
      const child = state.child;
      if (child && child.exitCode === null) {
        exits.push(new Promise((resolve) => child.once('exit', () => resolve())));
        child.kill('SIGKILL');
      }
    }
    await Promise.all(exits);
    for (const state of [...this.pods.values()]) this.forget(state);
  }

  /** The local address a pod port is reachable at (for Service endpoints). */
  podAddress(namespace: string, name: string): string | undefined {
    return this.pods.get(`${namespace}/${name}`)?.ip;
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1;
}
