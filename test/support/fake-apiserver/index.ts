// A fake cluster: the API server, its addresses, a kubeconfig for it, and helpers tests use to seed
// objects and to assert what is left.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { createCertificateAuthority, issueCertificate } from '../../../controller/pki/pki.js';
import { kindByName } from './kinds.js';
import { LoopbackNetwork } from './network.js';
import { parseLabelSelector } from './selectors.js';
import { FakeApiHttp, type PodProxyRefusal } from './server.js';
import type { KubeObject, WriteRecord } from './store.js';

export interface FakeClusterOptions {
  name: string;
  openshift?: boolean;
  /** The cluster's apps domain (config.openshift.io Ingress "cluster"). */
  routeDomain?: string;
  refusePodProxy?: PodProxyRefusal;
}

export interface FakeCluster {
  name: string;
  url: string;
  token: string;
  caPem: string;
  kubeconfigPath: string;
  network: LoopbackNetwork;
  api: FakeApiHttp;
  routeDomain: string;
  /** Store an object directly (test set-up; not counted as a client write). */
  seed(object: KubeObject): KubeObject;
  /** Objects whose labels match the selector. */
  labelled(selector: string): KubeObject[];
  writes(): WriteRecord[];
  /** The body of every create request so far (dry runs aside), as the client sent it. */
  createRequests(): KubeObject[];
  /** true: 403 as RBAC denies pods/proxy; 'unreachable': 503 as when the API server cannot reach the pod. */
  setRefusePodProxy(refuse: PodProxyRefusal): void;
  close(): Promise<void>;
}

export async function startFakeCluster(options: FakeClusterOptions): Promise<FakeCluster> {
  const network = new LoopbackNetwork();
  const ca = await createCertificateAuthority(`fake-${options.name}-ca`);
  const serving = await issueCertificate(ca, { commonName: 'kube-apiserver', usage: 'server', dnsNames: ['localhost'], ipAddresses: [network.apiIp] });
  const token = `token-${options.name}-${Math.random().toString(36).slice(2)}`;
  const routeDomain = options.routeDomain ?? `apps.${options.name}.example.test`;
  let refusePodProxy: PodProxyRefusal = options.refusePodProxy ?? false;
  let nodePort = 30000;
  const api: FakeApiHttp = new FakeApiHttp({
    token,
    tls: serving,
    openshift: options.openshift ?? true,
    refusePodProxy: () => refusePodProxy,
    admission: {
      namespaceExists: (name) => api.store.get(kindByName('Namespace'), undefined, name) !== undefined,
      allocateClusterIp: () => network.allocateServiceIp(),
      allocateNodePort: () => nodePort++,
      routeDomain,
    },
  });
  const port = await api.listen(network.apiIp);
  const url = `https://${network.apiIp}:${port}`;
  const directory = mkdtempSync(join(tmpdir(), `fake-${options.name}-`));
  const kubeconfigPath = join(directory, 'kubeconfig');
  writeFileSync(kubeconfigPath, toYaml(kubeconfigFor([{ name: options.name, url, token, caPem: ca.certPem }])), { mode: 0o600 });

  const seed = (object: KubeObject): KubeObject => {
    const kind = kindByName(object.kind);
    const copy = structuredClone(object);
    copy.apiVersion ??= 'v1';
    return api.store.create(kind, copy);
  };
  for (const namespace of ['default', 'kube-system']) seed({ kind: 'Namespace', metadata: { name: namespace }, status: { phase: 'Active' } });
  seed({
    kind: 'Node',
    metadata: { name: `${options.name}-node-1`, labels: { 'kubernetes.io/hostname': `${options.name}-node-1` } },
    status: {
      addresses: [
        { type: 'InternalIP', address: network.nodeIp },
        { type: 'Hostname', address: `${options.name}-node-1` },
      ],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  });
  if (options.openshift ?? true) {
    seed({ apiVersion: 'config.openshift.io/v1', kind: 'Ingress', metadata: { name: 'cluster' }, spec: { domain: routeDomain } });
  }

  return {
    name: options.name,
    url,
    token,
    caPem: ca.certPem,
    kubeconfigPath,
    network,
    api,
    routeDomain,
    seed,
    labelled: (selector) => {
      const matches = parseLabelSelector(selector);
      return api.store.all().filter((object) => matches(object.metadata?.labels ?? {}));
    },
    writes: () => [...api.store.writes],
    createRequests: () => api.store.createRequests.map((object) => structuredClone(object)),
    setRefusePodProxy: (refuse) => {
      refusePodProxy = refuse;
    },
    close: async () => {
      await api.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export interface KubeconfigEntry {
  name: string;
  url: string;
  token: string;
  caPem: string;
}

/** A kubeconfig with one context per entry, named after it; the first is current. */
export function kubeconfigFor(entries: KubeconfigEntry[]): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: entries.map((entry) => ({
      name: entry.name,
      cluster: { server: entry.url, 'certificate-authority-data': Buffer.from(entry.caPem).toString('base64') },
    })),
    users: entries.map((entry) => ({ name: `${entry.name}-user`, user: { token: entry.token } })),
    contexts: entries.map((entry) => ({ name: entry.name, context: { cluster: entry.name, user: `${entry.name}-user`, namespace: 'default' } })),
    'current-context': entries[0]?.name,
  };
}
