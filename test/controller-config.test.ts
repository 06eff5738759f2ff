// Spec and settings: a MigrationController CR is accepted as is, flags override it, and every bad
// value gives one line that names the key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify as toYaml } from 'yaml';
import { ConfigError } from '../controller/config/errors.js';
import { loadSettings, loadSpecFile, parseSettings, parseSpec } from '../controller/config/load.js';
import { routeHost } from '../controller/manifests/names.js';
import { labelSafe } from '../controller/manifests/labels.js';

const dir = mkdtempSync(join(tmpdir(), 'dvm-config-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, value: unknown) => {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : toYaml(value));
  return file;
};

const migrationController = {
  apiVersion: 'migration.openshift.io/v1alpha1',
  kind: 'MigrationController',
  metadata: { name: 'migration-controller', namespace: 'openshift-migration' },
  spec: {
    // Keys that belong to other MTC components are ignored.
    migration_velero: true,
    migration_ui: true,
    olm_managed: true,
    cluster_name: 'host',
    rsync_endpoint_type: 'NodePort',
    stunnel_tcp_proxy: 'http://user:pa%40ss@proxy.example.com:3128',
    noProxy: 'a.example.com,.svc',
    src_supplemental_groups: '1000,2000',
    target_supplemental_groups: 3000,
    rsync_opt_bwlimit: 1024,
    rsync_opt_delete: 'false',
    rsync_backoff_limit: 40,
    rsync_transfer_image_fqin: 'registry.example.com/dvm-agent:1',
    source_rsync_pod_memory_limits: '2Gi',
    migration_rsync_privileged: true,
  },
};

t.test('a MigrationController CR is accepted as is', async (t) => {
  const settings = loadSettings(write('mc.yaml', migrationController));
  t.equal(settings.rsync_endpoint_type, 'NodePort');
  t.same(settings.src_supplemental_groups, [1000, 2000]);
  t.same(settings.target_supplemental_groups, [3000]);
  t.same(settings.noProxy, ['a.example.com', '.svc']);
  t.equal(settings.rsync_opt_bwlimit, 1024);
  t.equal(settings.rsync_opt_delete, false);
  t.equal(settings.rsync_backoff_limit, 40);
  t.equal(settings.source_rsync_pod_memory_limits, '2Gi');
  t.equal(settings.target_rsync_pod_cpu_requests, '400m', 'MTC default');
  t.equal(settings.migration_rsync_privileged, true);
  t.equal(settings.rsync_max_concurrent_clients, 5);
  t.equal((settings as Record<string, unknown>).migration_velero, undefined, 'foreign keys dropped');
  const overridden = loadSettings(write('mc2.yaml', migrationController), { rsync_endpoint_type: 'Route', rsync_network_policies: true });
  t.equal(overridden.rsync_endpoint_type, 'Route', 'flags override the file');
  t.equal(overridden.rsync_network_policies, true);
  t.same(parseSettings(migrationController.spec).rsync_endpoint_type, 'NodePort', 'the spec alone works too');
});

const badSettings: Array<[string, Record<string, unknown>, RegExp]> = [
  ['unknown endpoint type', { rsync_endpoint_type: 'Ingress' }, /rsync_endpoint_type: must be one of Route, NodePort, ClusterIP, LoadBalancer/],
  ['malformed proxy URL', { stunnel_tcp_proxy: 'proxy.example.com:3128' }, /stunnel_tcp_proxy: /],
  ['https proxy', { stunnel_tcp_proxy: 'https://proxy:3128' }, /stunnel_tcp_proxy: must use http:\/\//],
  ['non-numeric groups', { src_supplemental_groups: '1000,wheel' }, /src_supplemental_groups: must be comma-separated numeric group ids.*"wheel"/],
  ['negative group', { target_supplemental_groups: '-5' }, /target_supplemental_groups: .*"-5"/],
  ['bwlimit text', { rsync_opt_bwlimit: 'fast' }, /rsync_opt_bwlimit: must be a whole number/],
  ['refused rsync extra', { rsync_opt_extras: '--rsh=ssh' }, /rsync_opt_extras: unknown or refused rsync extra "--rsh=ssh"/],
  ['typo of our key', { rsync_endpiont_type: 'Route' }, /rsync_endpiont_type: unknown setting/],
  ['bad quantity', { target_rsync_pod_memory_limits: 'lots' }, /target_rsync_pod_memory_limits: must be a Kubernetes quantity/],
  ['bad subdomain', { cluster_subdomain: 'Apps_Example' }, /cluster_subdomain: must be a DNS subdomain/],
  ['zero concurrency', { rsync_max_concurrent_clients: 0 }, /rsync_max_concurrent_clients: must be a positive/],
];
for (const [what, spec, message] of badSettings) {
  t.test(`bad setting: ${what}`, async (t) => {
    const file = write(`bad-${what.replace(/\W+/g, '-')}.yaml`, { ...migrationController, spec: { ...migrationController.spec, ...spec } });
    const error = t.throws(() => loadSettings(file)) as Error;
    t.type(error, ConfigError);
    t.match(error.message, message);
    t.notMatch(error.message, /\n/, 'one line');
    t.ok(error.message.startsWith(file), 'names the file');
    t.notMatch(error.message, /pa%40ss|pa@ss/, 'never echoes the proxy password');
  });
}

t.test('spec: CR or bare, defaults, targets', async (t) => {
  const file = write('dvm.yaml', {
    apiVersion: 'migration.openshift.io/v1alpha1',
    kind: 'DirectVolumeMigration',
    metadata: { name: 'dvm-1', uid: '3f0b6c1e-0000-4000-8000-000000000001' },
    spec: {
      srcMigClusterRef: { name: 'host' },
      persistentVolumeClaims: [{ name: 'a', namespace: 'ns1', targetNamespace: 'ns2', verify: true, kind: 'PersistentVolumeClaim' }],
      migrationType: 'CutOver',
    },
  });
  const loaded = loadSpecFile(file);
  t.equal(loaded.suggestedRunId, '3f0b6c1e-0000-4000-8000-000000000001');
  t.equal(loaded.spec.migrationType, 'CutOver');
  t.equal(loaded.spec.createDestinationNamespaces, false);
  t.equal(parseSpec({ persistentVolumeClaims: [{ name: 'a', namespace: 'b' }] }).spec.backOffLimit, 2);
});

const badSpecs: Array<[string, unknown, RegExp]> = [
  ['no PVCs', { persistentVolumeClaims: [] }, /persistentVolumeClaims: needs at least one PVC/],
  [
    'duplicate targets',
    {
      persistentVolumeClaims: [
        { name: 'a', namespace: 'x', targetName: 't' },
        { name: 'b', namespace: 'x', targetName: 't' },
      ],
    },
    /persistentVolumeClaims\.1\.targetName: duplicate target PVC x\/t \(also entry 0\)/,
  ],
  [
    'duplicate sources',
    {
      persistentVolumeClaims: [
        { name: 'a', namespace: 'x' },
        { name: 'a', namespace: 'x', targetName: 'b' },
      ],
    },
    /persistentVolumeClaims\.1\.name: duplicate source PVC x\/a/,
  ],
  ['bad namespace', { persistentVolumeClaims: [{ name: 'a', namespace: 'Bad_NS' }] }, /persistentVolumeClaims\.0\.namespace: must be a DNS label/],
  ['unknown PVC key', { persistentVolumeClaims: [{ name: 'a', namespace: 'x', tagretName: 'y' }] }, /persistentVolumeClaims\.0: .*tagretName/],
  ['bad migration type', { persistentVolumeClaims: [{ name: 'a', namespace: 'x' }], migrationType: 'Rollback' }, /migrationType: /],
  ['not a mapping', 'just text', /must be a mapping/],
  ['wrong kind', { kind: 'MigPlan', spec: {} }, /kind: expected DirectVolumeMigration, got MigPlan/],
];
for (const [what, spec, message] of badSpecs) {
  t.test(`bad spec: ${what}`, async (t) => {
    const error = t.throws(() => parseSpec(spec)) as Error;
    t.type(error, ConfigError);
    t.match(error.message, message);
    t.notMatch(error.message, /\n/);
  });
}

t.test('unreadable and invalid files name the file', async (t) => {
  t.throws(() => loadSpecFile(join(dir, 'missing.yaml')), /cannot read spec file .*missing\.yaml: ENOENT/);
  t.throws(() => loadSpecFile(write('broken.yaml', 'persistentVolumeClaims: [\n')), /spec file .*broken\.yaml is not valid YAML/);
});

t.test('names stay within Kubernetes limits', async (t) => {
  const host = routeHost('run-1', { namespace: 'n'.repeat(63), kind: 'filesystem' }, 'apps.example.com');
  t.ok(host.split('.')[0]!.length <= 63, 'Route host label at most 63');
  t.match(host, /^dvm-run-1-n+-[0-9a-f]{6}\.apps\.example\.com$/);
  const blockHost = routeHost('run-1', { namespace: 'n'.repeat(63), kind: 'block' }, 'apps.example.com');
  t.match(blockHost, /^dvm-block-run-1-n+-[0-9a-f]{6}\.apps\.example\.com$/, 'the block server has a Route of its own');
  t.ok(blockHost.split('.')[0]!.length <= 63);
  t.equal(labelSafe('data'), 'data');
  t.equal(labelSafe('x'.repeat(100)).length, 63);
  t.not(labelSafe(`${'x'.repeat(100)}a`), labelSafe(`${'x'.repeat(100)}b`), 'long names differ after cutting');
});
