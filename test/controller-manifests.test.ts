// Every object `render` produces validates against the real schemas, carries exactly the docs/contracts.md
// labels, and says what the settings asked for (groups, security, proxy, resources, endpoint).
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { render } from '../controller/index.js';
import type { KubeObject } from '../controller/manifests/render.js';
import { runToken } from '../controller/manifests/names.js';
import { validateManifest } from './support/fake-apiserver/manifest-validation.js';

const spec = {
  persistentVolumeClaims: [
    { name: 'data-1', namespace: 'app-a', verify: true },
    { name: 'data-2', namespace: 'app-a', targetName: 'data-2-new', targetNamespace: 'app-b' },
    { name: `long-${'x'.repeat(240)}`, namespace: 'app-c' },
  ],
  createDestinationNamespaces: true,
};
const sourcePvcs = Object.fromEntries(
  spec.persistentVolumeClaims.map((pvc) => [
    `${pvc.namespace}/${pvc.name}`,
    { storage: '5Gi', accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem' as const, storageClassName: 'gp2' },
  ]),
);
const baseSettings = {
  cluster_subdomain: 'apps.dest.example.com',
  src_supplemental_groups: '1000,2000',
  target_supplemental_groups: '3000',
  stunnel_tcp_proxy: 'http://user:secret@proxy.example.com:3128',
  noProxy: '.internal.example.com',
  rsync_network_policies: true,
  storage_class_mapping: { gp2: 'standard-csi' },
  source_rsync_pod_cpu_limits: '2',
};

const all = (rendered: { source: KubeObject[]; destination: KubeObject[] }) => [...rendered.destination, ...rendered.source] as Array<Record<string, any>>;
const decode = (secret: Record<string, any>, key: string) => Buffer.from(secret.data[key], 'base64').toString('utf8');

for (const endpoint of ['Route', 'NodePort', 'ClusterIP', 'LoadBalancer']) {
  t.test(`${endpoint}: every rendered object validates against its schema`, async (t) => {
    const rendered = render({ spec, settings: { ...baseSettings, rsync_endpoint_type: endpoint }, runId: 'run-1', sourcePvcs });
    const objects = all(rendered);
    for (const object of objects) t.doesNotThrow(() => validateManifest(object), `${object.kind} ${object.metadata.name}`);
    const kinds = objects.map((object) => object.kind);
    t.equal(kinds.filter((kind) => kind === 'Route').length, endpoint === 'Route' ? 3 : 0, 'a Route per server (destination namespace), only for Route');
    const service = objects.find((object) => object.kind === 'Service')!;
    t.equal(service.spec.type, endpoint === 'Route' ? 'ClusterIP' : endpoint);
  });
}

t.test('the Route schema rejects what OpenShift rejects', async (t) => {
  const route = all(render({ spec, settings: baseSettings, runId: 'run-1' })).find((object) => object.kind === 'Route')!;
  t.doesNotThrow(() => validateManifest(route));
  t.throws(() => validateManifest({ ...route, spec: { ...route.spec, tls: { termination: 'passthrough', key: 'k' } } }), 'no key with passthrough');
  t.throws(() => validateManifest({ ...route, spec: { ...route.spec, tls: { termination: 'bogus' } } }), 'unknown termination');
  t.throws(() => validateManifest({ ...route, spec: { ...route.spec, host: `${'a'.repeat(64)}.example.com` } }), 'host label over 63');
  t.throws(() => validateManifest({ ...route, spec: { ...route.spec, tos: route.spec.to } }), 'unknown field');
  t.end();
});

t.test('the unknown-field check catches typos the OpenAPI schema lets through', async (t) => {
  const pod = all(render({ spec, settings: baseSettings, runId: 'run-1' })).find((object) => object.kind === 'Pod')!;
  const typo = structuredClone(pod);
  typo.spec.securityContext.runAsNonroot = true;
  t.throws(() => validateManifest(typo), /unknown field.*runAsNonroot/);
});

t.test('labels are exactly those of docs/contracts.md', async (t) => {
  const rendered = render({ spec, settings: baseSettings, runId: 'run-1', sourcePvcs });
  const run = { app: 'directvolumemigration-rsync-transfer', owner: 'directvolumemigration', directvolumemigration: 'run-1' };
  for (const object of all(rendered)) {
    if (object.kind === 'Namespace' || object.kind === 'PersistentVolumeClaim') {
      t.notOk(object.metadata.labels?.directvolumemigration, `${object.kind} ${object.metadata.name} is kept after the run, so it has no run label`);
      continue;
    }
    const labels = object.metadata.labels;
    t.match(labels, run, `${object.kind} ${object.metadata.name} has the run labels`);
    const isClientPod = object.kind === 'Pod' && rendered.source.includes(object);
    const isServerSide = rendered.destination.includes(object) && ['Pod', 'Service', 'Route'].includes(object.kind);
    t.equal(labels.purpose, isServerSide ? 'rsync' : undefined, `${object.kind} ${object.metadata.name} purpose`);
    if (isClientPod) {
      t.equal(labels['migration.openshift.io/rsync-attempt'], '1');
      t.ok(labels['migration.openshift.io/created-for-pvc'].length <= 63);
    } else {
      t.notOk(labels['migration.openshift.io/created-for-pvc']);
    }
  }
  const clientPods = rendered.source.filter((object) => object.kind === 'Pod') as Array<Record<string, any>>;
  t.same(clientPods.map((pod) => pod.metadata.labels['migration.openshift.io/created-for-pvc']).slice(0, 2), ['data-1', 'data-2']);
  t.match(clientPods[2]!.metadata.labels['migration.openshift.io/created-for-pvc'], /^long-x+-[0-9a-f]{6}$/, 'long names keep a hash');
  t.ok(clientPods[2]!.metadata.name.length <= 63, 'pod names fit a DNS label');
});

t.test('pods: supplemental groups, non-root lockdown, resources, read-only source, 0400 secrets', async (t) => {
  const rendered = render({ spec, settings: baseSettings, runId: 'run-1' });
  const pods = all(rendered).filter((object) => object.kind === 'Pod');
  for (const pod of pods) {
    const server = rendered.destination.includes(pod);
    const context = pod.spec.securityContext;
    t.same(context.supplementalGroups, server ? [3000] : [1000, 2000], 'supplementalGroups');
    t.equal(context.runAsNonRoot, true);
    t.same(context.seccompProfile, { type: 'RuntimeDefault' });
    const container = pod.spec.containers[0];
    t.same(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
    t.equal(container.terminationMessagePath, '/dev/termination-log');
    t.same(container.command.slice(0, 2), ['dvm-agent', server ? 'server' : 'client']);
    t.ok(
      container.volumeMounts.some((mount: any) => mount.mountPath === '/tmp'),
      'writable /tmp on a read-only root',
    );
    for (const volume of pod.spec.volumes.filter((entry: any) => entry.secret)) t.equal(volume.secret.defaultMode, 0o440);
    t.equal(container.resources.limits.cpu, server ? '1' : '2');
    if (!server) {
      t.equal(pod.spec.restartPolicy, 'Never');
      t.ok(pod.spec.volumes.find((volume: any) => volume.name === 'source').persistentVolumeClaim.readOnly);
      t.ok(container.volumeMounts.find((mount: any) => mount.name === 'source').readOnly);
    }
  }
  const root = all(render({ spec, settings: { ...baseSettings, migration_rsync_privileged: true }, runId: 'run-1' })).find((object) => object.kind === 'Pod')!;
  t.equal(root.spec.securityContext.runAsUser, 0, 'root on request');
  t.ok(root.spec.containers[0].securityContext.capabilities.add.includes('CHOWN'));
  t.end();
});

t.test('agent configs: proxy only where noProxy does not match, validated by the agent schema', async (t) => {
  const secretsOf = (settings: Record<string, unknown>) =>
    all(render({ spec, settings, runId: 'run-1' })).filter(
      (object) => object.kind === 'Secret' && object.metadata.name.startsWith('dvm-rsync-client-') && !object.metadata.name.includes('-tls-'),
    );
  const proxied = secretsOf(baseSettings);
  t.equal(proxied.length, 3);
  for (const secret of proxied) {
    const config = parseYaml(decode(secret, 'agent.yaml'));
    t.equal(config.settings.stunnel_tcp_proxy, 'http://user:secret@proxy.example.com:3128');
    t.same(config.settings.noProxy, ['.internal.example.com']);
    t.equal(config.server.port, 443);
    t.match(config.server.host, /^dvm-run-1-app-[abc]\.apps\.dest\.example\.com$/);
    t.equal(config.server.serverName, config.server.host);
    t.equal(config.tls.key, '/etc/dvm/tls/tls.key');
    t.equal(config.progressListen, '0.0.0.0:8081');
  }
  t.equal(parseYaml(decode(proxied[0]!, 'agent.yaml')).verify, true, 'verify from the spec');
  const bypassed = secretsOf({ ...baseSettings, noProxy: '.apps.dest.example.com' });
  for (const secret of bypassed) t.equal(parseYaml(decode(secret, 'agent.yaml')).settings.stunnel_tcp_proxy, '', 'no proxy credentials when bypassed');
  t.end();
});

t.test('destination PVCs and namespaces', async (t) => {
  const rendered = render({ spec, settings: baseSettings, runId: 'run-1', sourcePvcs });
  const pvcs = rendered.destination.filter((object) => object.kind === 'PersistentVolumeClaim') as Array<Record<string, any>>;
  t.same(pvcs.map((pvc) => `${pvc.metadata.namespace}/${pvc.metadata.name}`).slice(0, 2), ['app-a/data-1', 'app-b/data-2-new']);
  t.equal(pvcs[0]!.spec.resources.requests.storage, '5Gi');
  t.equal(pvcs[0]!.spec.storageClassName, 'standard-csi', 'storage class mapping');
  t.same(
    rendered.destination.filter((object) => object.kind === 'Namespace').map((object: any) => object.metadata.name),
    ['app-a', 'app-b', 'app-c'],
  );
  t.end();
});

t.test('netpol/*.yaml templates are what the generator creates', async (t) => {
  const rendered = render({ spec, settings: baseSettings, runId: 'run-1' });
  const policies = rendered.source.filter((object) => object.kind === 'NetworkPolicy' && (object.metadata as any).namespace === 'app-a');
  t.equal(policies.length, 2);
  for (const [file, policy] of [
    ['allow-ingress.yaml', policies[0]],
    ['allow-egress.yaml', policies[1]],
  ] as const) {
    const text = readFileSync(new URL(`../netpol/${file}`, import.meta.url), 'utf8')
      .replaceAll('${NAMESPACE}', 'app-a')
      .replaceAll('${RUN_ID}', 'run-1')
      .replaceAll('${RUN_TOKEN}', runToken('run-1'));
    t.same(parseYaml(text), policy, file);
    t.doesNotThrow(() => validateManifest(policy as Record<string, any>));
  }
  const egressExample = parseYaml(readFileSync(new URL('../netpol/egress-network-policy-example.yaml', import.meta.url), 'utf8'));
  t.equal(egressExample.kind, 'EgressNetworkPolicy');
  t.equal(egressExample.spec.egress.at(-1).type, 'Deny');
  t.end();
});
