// Block PVCs in what `render` (and so `migrate`) produces: a destination namespace with file and
// block PVCs gets one server of each kind, each with its own names, MTC's block app label and a
// Service that selects only its own pod; block pods have devices, not mounts, and the agent configs
// are the block copier's, as the agent's own schemas read them.
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { blockClientConfigSchema, blockServerConfigSchema } from '../contract/block-config.js';
import { clientConfigSchema, serverConfigSchema } from '../contract/agent-config.js';
import { render } from '../controller/index.js';
import { APP_VALUE, APP_VALUE_BLOCK, isTransferPodLabels, runSelector } from '../controller/manifests/labels.js';
import type { KubeObject } from '../controller/manifests/render.js';
import { parseLabelSelector } from './support/fake-apiserver/selectors.js';
import { validateManifest } from './support/fake-apiserver/manifest-validation.js';

type Loose = Record<string, any>;

const spec = {
  persistentVolumeClaims: [
    { name: 'disk', namespace: 'vm', verify: true },
    { name: 'files', namespace: 'vm' },
  ],
  createDestinationNamespaces: true,
};
const sourcePvcs = {
  'vm/disk': { storage: '10Gi', accessModes: ['ReadWriteOnce'], volumeMode: 'Block' as const },
  'vm/files': { storage: '1Gi', accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem' as const },
};
const settings = {
  rsync_endpoint_type: 'Route',
  cluster_subdomain: 'apps.example.com',
  rsync_network_policies: true,
  stunnel_tcp_proxy: 'http://proxy.example.com:3128',
};

const rendered = render({ spec, settings, runId: 'blk', sourcePvcs });
const objects = [...rendered.destination, ...rendered.source] as Loose[];
const ofKind = (kind: string) => objects.filter((object) => object.kind === kind);
const named = (kind: string, name: string) => objects.find((object) => object.kind === kind && object.metadata.name === name);
const agentConfig = (secret: Loose | undefined): unknown => parseYaml(Buffer.from(secret!.data['agent.yaml'], 'base64').toString('utf8'));
const container = (pod: Loose | undefined): Loose => pod!.spec.containers[0];

t.test('every object validates, and the namespace has a server of each kind', async (t) => {
  for (const object of objects) t.doesNotThrow(() => validateManifest(object), `${object.kind} ${object.metadata.name}`);
  const servers = ofKind('Pod').filter((pod) => pod.metadata.namespace === 'vm' && pod.metadata.labels.purpose === 'rsync');
  t.same(servers.map((pod) => pod.metadata.name).sort(), ['dvm-block-server-blk', 'dvm-rsync-server-blk']);
  t.same(
    ofKind('Service')
      .map((service) => service.metadata.name)
      .sort(),
    ['dvm-block-blk', 'dvm-rsync-blk'],
  );
  t.same(
    ofKind('Route')
      .map((route) => route.spec.host)
      .sort(),
    ['dvm-blk-vm.apps.example.com', 'dvm-block-blk-vm.apps.example.com'],
  );
});

t.test('each Service selects its own server pod only', async (t) => {
  const pods = ofKind('Pod');
  for (const service of ofKind('Service')) {
    const selected = pods.filter((pod) =>
      Object.entries(service.spec.selector as Record<string, string>).every(([key, value]) => pod.metadata.labels[key] === value),
    );
    t.equal(selected.length, 1, `${service.metadata.name} selects one pod`);
    t.equal(selected[0]!.metadata.name, service.metadata.name.replace(/-blk$/, '-server-blk'));
  }
});

t.test('block pods: MTC block label, devices instead of mounts, the block agent commands', async (t) => {
  const server = named('Pod', 'dvm-block-server-blk')!;
  t.equal(server.metadata.labels.app, APP_VALUE_BLOCK);
  t.same(container(server).command, ['dvm-agent', 'block-server', '--config', '/etc/dvm/config/agent.yaml']);
  t.same(container(server).volumeDevices, [{ name: 'pvc-0', devicePath: '/dev/dvm/disk' }]);
  t.notOk(
    container(server).volumeMounts.some((mount: Loose) => mount.name.startsWith('pvc-')),
    'the PVC is not mounted',
  );
  t.same(server.spec.volumes.find((volume: Loose) => volume.name === 'pvc-0').persistentVolumeClaim, { claimName: 'disk' });
  const client = ofKind('Pod').find((pod) => pod.metadata.labels['migration.openshift.io/created-for-pvc'] === 'disk')!;
  t.equal(client.metadata.labels.app, APP_VALUE_BLOCK);
  t.same(container(client).command, ['dvm-agent', 'block-client', '--config', '/etc/dvm/config/agent.yaml']);
  t.same(container(client).volumeDevices, [{ name: 'source', devicePath: '/dev/dvm/source' }]);
  t.same(client.spec.volumes.find((volume: Loose) => volume.name === 'source').persistentVolumeClaim, { claimName: 'disk', readOnly: true });
  const files = named('Pod', 'dvm-rsync-server-blk')!;
  t.equal(files.metadata.labels.app, APP_VALUE, 'the file server keeps the file label');
  t.notOk(container(files).volumeDevices, 'and has no devices');
});

t.test('block agent configs are the block copier\u2019s, as the agent parses them', async (t) => {
  const server = blockServerConfigSchema.parse(agentConfig(named('Secret', 'dvm-block-server-config-blk')));
  t.same(
    server.targets.map((target) => [target.name, target.path, target.client]),
    [['disk', '/dev/dvm/disk', 'urn:dvm:pvc:vm/disk']],
  );
  t.equal(server.listen, '0.0.0.0:2222', 'the port the Service and the NetworkPolicy open');
  t.equal(server.healthListen, '0.0.0.0:8080', 'the port the probes ask');
  t.equal(serverConfigSchema.safeParse(agentConfig(named('Secret', 'dvm-block-server-config-blk'))).success, false, 'not a file server config');
  const clientSecret = ofKind('Secret').find((secret) => secret.metadata.name.startsWith('dvm-rsync-client-disk'))!;
  const client = blockClientConfigSchema.parse(agentConfig(clientSecret));
  t.equal(client.target, 'disk');
  t.equal(client.source, '/dev/dvm/source');
  t.equal(client.verify, true);
  t.equal(client.server.host, 'dvm-block-blk-vm.apps.example.com', 'dials the block Route');
  t.equal(client.settings.stunnel_tcp_proxy, 'http://proxy.example.com:3128', 'through the same proxy');
  const files = ofKind('Secret').find((secret) => secret.metadata.name.startsWith('dvm-rsync-client-files'))!;
  t.equal(clientConfigSchema.parse(agentConfig(files)).server.host, 'dvm-blk-vm.apps.example.com', 'the file client dials the file Route');
});

t.test('the destination PVC is a Block volume of the same size', async (t) => {
  const pvc = named('PersistentVolumeClaim', 'disk')!;
  t.equal(pvc.spec.volumeMode, 'Block');
  t.equal(pvc.spec.resources.requests.storage, '10Gi');
  t.equal(named('PersistentVolumeClaim', 'files')!.spec.volumeMode, 'Filesystem');
});

t.test('NetworkPolicies, cleanup and quiesce see both kinds', async (t) => {
  const pods = ofKind('Pod');
  const matches = (policy: Loose, pod: Loose) => {
    const { matchLabels, matchExpressions } = policy.spec.podSelector;
    const labels = pod.metadata.labels as Record<string, string>;
    return (
      Object.entries(matchLabels as Record<string, string>).every(([key, value]) => labels[key] === value) &&
      (matchExpressions as Loose[]).every((expression) => expression.operator === 'In' && expression.values.includes(labels[expression.key]))
    );
  };
  for (const policy of ofKind('NetworkPolicy')) {
    const namespacePods = pods.filter((pod) => pod.metadata.namespace === policy.metadata.namespace);
    t.ok(
      namespacePods.every((pod) => matches(policy, pod)),
      `${policy.metadata.name} selects every transfer pod of its namespace`,
    );
  }
  const cleanup = parseLabelSelector(runSelector('blk'));
  for (const object of objects.filter((object) => object.kind !== 'Namespace' && object.kind !== 'PersistentVolumeClaim')) {
    t.ok(cleanup(object.metadata.labels ?? {}), `cleanup finds ${object.kind} ${object.metadata.name}`);
  }
  t.ok(
    pods.every((pod) => isTransferPodLabels(pod.metadata.labels)),
    'no transfer pod is taken for an application',
  );
  t.notOk(isTransferPodLabels({ app: APP_VALUE_BLOCK }), 'an app label alone is not ours');
});

t.test('without clusters, targetVolumeMode: Block renders a block copy', async (t) => {
  const planned = render({ spec: { persistentVolumeClaims: [{ name: 'd', namespace: 'n', targetVolumeMode: 'Block' }] }, settings, runId: 'blk' });
  const pods = (planned.destination as KubeObject[]).filter((object) => object.kind === 'Pod') as Loose[];
  t.same(
    pods.map((pod) => pod.metadata.name),
    ['dvm-block-server-blk'],
  );
});
