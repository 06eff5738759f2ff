// The cluster commands as a person runs them: render prints every object (no cluster needed),
// status lists a run's objects on both clusters, cleanup deletes exactly that run's objects.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseAllDocuments, stringify as toYaml } from 'yaml';
import { runLabels } from '../controller/manifests/labels.js';
import { startFakeCluster } from './support/fake-apiserver/index.js';
import { validateManifest } from './support/fake-apiserver/manifest-validation.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'dvm-cli-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const commands = new URL('../dist/controller/cli/cluster.js', import.meta.url).href;
const driver = `const { Command } = await import('commander');
const { registerClusterCommands } = await import(${JSON.stringify(commands)});
const program = new Command('dvm');
registerClusterCommands(program);
await program.parseAsync(process.argv.slice(1), { from: 'user' });`;
const dvm = (...args: string[]) =>
  run(process.execPath, ['--input-type=module', '-e', driver, ...args]).catch((error: { code: number; stdout: string; stderr: string }) => error);

const specFile = join(dir, 'dvm.yaml');
writeFileSync(
  specFile,
  toYaml({
    apiVersion: 'migration.openshift.io/v1alpha1',
    kind: 'DirectVolumeMigration',
    metadata: { name: 'dvm-cli', uid: 'uid-1234' },
    spec: {
      persistentVolumeClaims: [
        { name: 'a', namespace: 'n1' },
        { name: 'b', namespace: 'n2', targetNamespace: 'n3' },
      ],
      createDestinationNamespaces: true,
    },
  }),
);
const settingsFile = join(dir, 'mc.yaml');
writeFileSync(settingsFile, toYaml({ kind: 'MigrationController', spec: { rsync_endpoint_type: 'LoadBalancer', migration_ui: true } }));

t.test('render -o yaml: every object, labelled with the CR uid, valid, without key material', async (t) => {
  const { stdout } = (await dvm('render', '-f', specFile, '--settings', settingsFile, '--network-policies')) as { stdout: string };
  const documents = parseAllDocuments(stdout).map((document) => document.toJSON() as Record<string, any>);
  const count = (kind: string) => documents.filter((document) => document.kind === kind).length;
  t.equal(count('Namespace'), 2, 'destination namespaces n1, n3');
  t.equal(count('Pod'), 4, '2 servers + 2 clients');
  t.equal(count('Service'), 2);
  t.equal(count('Route'), 0, 'LoadBalancer from the settings file');
  t.equal(count('NetworkPolicy'), 8, 'ingress + egress in n1, n3 (destination) and n1, n2 (source)');
  for (const document of documents) {
    t.doesNotThrow(() => validateManifest(document), `${document.kind} ${document.metadata.name}`);
    if (document.metadata.labels) t.equal(document.metadata.labels.directvolumemigration, 'uid-1234');
  }
  t.notMatch(stdout, /BEGIN (EC |)PRIVATE KEY/, 'render prints no key');
  t.match(stdout, /# cluster: destination/);
  t.match(stdout, /# cluster: source/);
});

t.test('render -o json and bad input', async (t) => {
  const { stdout } = (await dvm('render', '-f', specFile, '-o', 'json', '--run-id', 'abc')) as { stdout: string };
  const parsed = JSON.parse(stdout);
  t.equal(parsed.destination.kind, 'List');
  t.ok(parsed.source.items.every((item: any) => item.metadata.labels?.directvolumemigration === 'abc'));
  const bad = (await dvm('render', '-f', specFile, '--endpoint-type', 'Tunnel')) as { code: number; stderr: string };
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^dvm: .*rsync_endpoint_type: must be one of Route, NodePort, ClusterIP, LoadBalancer\n$/);
});

t.test('status and cleanup of one run on both clusters', async (t) => {
  const source = await startFakeCluster({ name: 'cli-src' });
  const destination = await startFakeCluster({ name: 'cli-dst', openshift: false });
  t.teardown(async () => {
    await source.close();
    await destination.close();
  });
  for (const cluster of [source, destination]) cluster.seed({ kind: 'Namespace', metadata: { name: 'n1' } });
  source.seed({ kind: 'Secret', metadata: { name: 's-run1', namespace: 'n1', labels: runLabels('run1') } });
  source.seed({ kind: 'Pod', metadata: { name: 'p-run1', namespace: 'n1', labels: runLabels('run1') }, spec: { containers: [{ name: 'c', image: 'i' }] } });
  destination.seed({ kind: 'Service', metadata: { name: 'svc-run1', namespace: 'n1', labels: runLabels('run1') }, spec: {} });
  destination.seed({ kind: 'Secret', metadata: { name: 's-run2', namespace: 'n1', labels: runLabels('run2') } });
  const flags = ['--source-kubeconfig', source.kubeconfigPath, '--destination-kubeconfig', destination.kubeconfigPath];

  const before = (await dvm('status', '--run', 'run1', '--json', ...flags)) as { stdout: string };
  const found = JSON.parse(before.stdout);
  t.same(found.source.map((object: any) => `${object.kind} ${object.name}`).sort(), ['Pod p-run1', 'Secret s-run1']);
  t.same(
    found.destination.map((object: any) => `${object.kind} ${object.name}`),
    ['Service svc-run1'],
  );

  const cleaned = (await dvm('cleanup', '--run', 'run1', ...flags)) as { stdout: string };
  t.match(cleaned.stdout, /deleted 2 source and 1 destination object\(s\) of run run1/);
  t.same(source.labelled('directvolumemigration=run1'), []);
  t.same(destination.labelled('directvolumemigration=run1'), []);
  t.equal(destination.labelled('directvolumemigration=run2').length, 1, 'another run is untouched');

  const all = (await dvm('status', ...flags)) as { stdout: string };
  t.match(all.stdout, /source: 0 object\(s\)\ndestination: 1 object\(s\)\n {2}Secret n1\/s-run2/);
});

t.test('package.json names commands that the build produces', async (t) => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
  for (const [name, path] of Object.entries(pkg.bin)) t.ok(existsSync(path), `bin.${name} → ${path} exists`);
  for (const [name, script] of Object.entries(pkg.scripts)) {
    for (const path of script.match(/dist\/\S+\.js/g) ?? []) t.ok(existsSync(path), `scripts.${name} → ${path} exists`);
  }
});
