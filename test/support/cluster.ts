// The real single-node Kubernetes test cluster (test/cluster/up.sh) for tests: testCluster() says
// whether it is up and hands out its facts and a few helpers (kubectl, namespaces with Pod Security
// labels, PVC host directories, pods' phases, cluster DNS from the host).
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CLUSTER_DIR = process.env.DVM_CLUSTER_DIR ?? '/var/lib/dvm-test-cluster';
/** For t.skip / { skip } when testCluster() returned null. */
export const CLUSTER_NOT_UP = `the test cluster is not up (run test/cluster/up.sh as root; state in ${CLUSTER_DIR})`;

/** What up.sh writes to <state dir>/cluster.json. */
export interface ClusterFacts {
  stateDir: string;
  kubeconfig: string;
  kubectlPath: string;
  apiServer: string;
  nodeName: string;
  nodeIP: string;
  podCIDR: string;
  serviceCIDR: string;
  clusterDomain: string;
  dnsServer: string;
  /** Routes get <name>-<namespace>.<appsDomain>; every name under it resolves to the router. */
  appsDomain: string;
  routerAddress: string;
  routerPort: number;
  loadBalancerPool: [string, string];
  /** The default StorageClass. */
  storageClass: string;
  provisioner: string;
  volumesDir: string;
  /** The PV annotation that holds the host path of a volume (a directory, or a Block volume's file). */
  hostPathAnnotation: string;
  containerdSocket: string;
  /** The sandbox image; entrypoint /pause. */
  pauseImage: string;
  /** A tiny static tool (echo, sleep, resolve, connect, serve, http, write, cat, ls, id): see test/cluster/pause/probe.c. */
  probeImage: string;
}

export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

export interface KubectlOptions {
  input?: string;
  timeoutMs?: number;
}

export interface BoundVolume {
  volumeName: string;
  hostPath: string;
}

export interface TestCluster extends ClusterFacts {
  /** Runs kubectl with the admin kubeconfig; resolves to stdout, rejects with stderr in the message. */
  kubectl(args: string[], options?: KubectlOptions): Promise<string>;
  /** kubectl ... -o json, parsed. */
  kubectlJson<T = KubeObject>(args: string[], options?: KubectlOptions): Promise<T>;
  /** kubectl apply of objects (or YAML/JSON text), optionally into a namespace. */
  apply(objects: object | object[] | string, namespace?: string): Promise<void>;
  /** Creates (or relabels) a namespace that enforces the Pod Security level (default restricted). */
  createNamespace(name: string, level?: PodSecurityLevel, labels?: Record<string, string>): Promise<void>;
  /** Deletes a namespace; waits until it is gone unless wait is false. */
  deleteNamespace(name: string, wait?: boolean): Promise<void>;
  /** Waits until the PVC is Bound; its volume and the directory on this host behind it. */
  waitForPvcBound(namespace: string, name: string, timeoutMs?: number): Promise<BoundVolume>;
  /** Waits until the pod's phase is one of phases (default Running/Succeeded/Failed); returns it. */
  waitForPodPhase(namespace: string, name: string, phases?: string[], timeoutMs?: number): Promise<string>;
  /** Resolves an IPv4 name through the cluster DNS (dnsmasq on the bridge) from this host. */
  resolve(name: string): Promise<string[]>;
  /** Whether containerd (namespace k8s.io) has the image, e.g. localhost/dvm-agent:dev. */
  hasImage(ref: string): Promise<boolean>;
}

/** The loose shape of a Kubernetes object as kubectl prints it. */
export type KubeObject = Record<string, any>;

function run(file: string, args: string[], options: KubectlOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file.split('/').pop()} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last instanceof Error ? ` (${last.message})` : ''}`);
    await sleep(250);
  }
}

function bind(facts: ClusterFacts): TestCluster {
  const kubectl = (args: string[], options?: KubectlOptions) => run(facts.kubectlPath, ['--kubeconfig', facts.kubeconfig, ...args], options);
  const kubectlJson = async <T = KubeObject>(args: string[], options?: KubectlOptions) => JSON.parse(await kubectl([...args, '-o', 'json'], options)) as T;
  const cluster: TestCluster = {
    ...facts,
    kubectl,
    kubectlJson,
    async apply(objects, namespace) {
      const input =
        typeof objects === 'string' ? objects : JSON.stringify(Array.isArray(objects) ? { apiVersion: 'v1', kind: 'List', items: objects } : objects);
      await kubectl(['apply', ...(namespace ? ['-n', namespace] : []), '-f', '-'], { input });
    },
    async createNamespace(name, level = 'restricted', labels = {}) {
      await cluster.apply({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name,
          labels: {
            'pod-security.kubernetes.io/enforce': level,
            'pod-security.kubernetes.io/enforce-version': 'latest',
            'pod-security.kubernetes.io/warn': level,
            ...labels,
          },
        },
      });
      // Pods need the namespace's default ServiceAccount, which the controller manager adds.
      await poll(`ServiceAccount ${name}/default`, 30_000, async () =>
        (await kubectl(['get', 'serviceaccount', 'default', '-n', name, '-o', 'name'])).trim() ? true : undefined,
      );
    },
    async deleteNamespace(name, wait = true) {
      await kubectl(['delete', 'namespace', name, '--ignore-not-found', `--wait=${wait}`, '--timeout=120s'], { timeoutMs: 130_000 });
    },
    async waitForPvcBound(namespace, name, timeoutMs = 60_000) {
      const volumeName = await poll(`PVC ${namespace}/${name} Bound`, timeoutMs, async () => {
        const pvc = await kubectlJson(['get', 'pvc', name, '-n', namespace]);
        return pvc.status?.phase === 'Bound' ? (pvc.spec?.volumeName as string) : undefined;
      });
      const pv = await kubectlJson(['get', 'pv', volumeName]);
      const hostPath = pv.metadata?.annotations?.[facts.hostPathAnnotation] ?? pv.spec?.local?.path ?? pv.spec?.hostPath?.path;
      if (typeof hostPath !== 'string') throw new Error(`PV ${volumeName} of ${namespace}/${name} has no host path`);
      return { volumeName, hostPath };
    },
    async waitForPodPhase(namespace, name, phases = ['Running', 'Succeeded', 'Failed'], timeoutMs = 60_000) {
      return poll(`pod ${namespace}/${name} ${phases.join('|')}`, timeoutMs, async () => {
        const pod = await kubectlJson(['get', 'pod', name, '-n', namespace]);
        const phase = pod.status?.phase as string | undefined;
        return phase && phases.includes(phase) ? phase : undefined;
      });
    },
    async resolve(name) {
      const resolver = new Resolver({ timeout: 2000, tries: 2 });
      resolver.setServers([facts.dnsServer]);
      return resolver.resolve4(name);
    },
    async hasImage(ref) {
      const out = await run('ctr', ['--address', facts.containerdSocket, '-n', 'k8s.io', 'images', 'ls', '-q']);
      return out.split('\n').includes(ref);
    },
  };
  return cluster;
}

let cached: Promise<TestCluster | null> | undefined;

/** The test cluster when it is up (API ready, node Ready), else null. Checked once per process. */
export function testCluster(): Promise<TestCluster | null> {
  cached ??= (async () => {
    let facts: ClusterFacts;
    try {
      facts = JSON.parse(await readFile(join(CLUSTER_DIR, 'cluster.json'), 'utf8')) as ClusterFacts;
    } catch {
      return null;
    }
    const cluster = bind(facts);
    try {
      await cluster.kubectl(['get', '--raw', '/readyz'], { timeoutMs: 10_000 });
      const node = await cluster.kubectlJson(['get', 'node', facts.nodeName], { timeoutMs: 10_000 });
      const ready = (node.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True');
      return ready ? cluster : null;
    } catch {
      return null;
    }
  })();
  return cached;
}

/** A name for a test's own namespace: prefix plus a short random suffix. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The restricted-compliant security settings for a test pod (as the project's own pods use). */
export const RESTRICTED_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: 65534,
  runAsGroup: 65534,
  seccompProfile: { type: 'RuntimeDefault' },
} as const;
export const RESTRICTED_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
} as const;

/** A pod of the probe image: args are probe commands (see test/cluster/pause/probe.c). */
export function probePod(
  cluster: ClusterFacts,
  name: string,
  args: string[],
  extra: {
    fsGroup?: number;
    volumes?: { claimName: string; mountPath: string }[];
    labels?: Record<string, string>;
    ports?: { name: string; containerPort: number }[];
    restartPolicy?: string;
  } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name, ...extra.labels } },
    spec: {
      restartPolicy: extra.restartPolicy ?? 'Never',
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      securityContext: { ...RESTRICTED_POD_SECURITY, ...(extra.fsGroup !== undefined ? { fsGroup: extra.fsGroup } : {}) },
      containers: [
        {
          name: 'probe',
          image: cluster.probeImage,
          imagePullPolicy: 'IfNotPresent',
          args,
          securityContext: RESTRICTED_CONTAINER_SECURITY,
          ...(extra.ports ? { ports: extra.ports } : {}),
          ...(extra.volumes ? { volumeMounts: extra.volumes.map((v, i) => ({ name: `v${i}`, mountPath: v.mountPath })) } : {}),
        },
      ],
      ...(extra.volumes ? { volumes: extra.volumes.map((v, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: v.claimName } })) } : {}),
    },
  };
}
