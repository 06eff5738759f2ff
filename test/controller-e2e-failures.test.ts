// What goes wrong ends clean: a PVC that fails leaves the others migrated and nothing labelled
// behind; SIGINT mid-transfer removes everything; a refused pod proxy falls back to the pod log;
// an agent that finishes before its websocket is reached still has its events read from its log;
// bad input is one clear error with nothing created.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { stringify as toYaml } from 'yaml';
import { runClusterMigration } from '../controller/cli/cluster.js';
import { runMigration } from '../controller/index.js';
import type { ControllerEvent } from '../controller/migration/events.js';
import {
  clustersOf,
  destinationNamespaces,
  labelledLeft,
  seedPvcs,
  specFor,
  treeDifferences,
  writeCount,
  type PvcRef,
} from './support/pod-runner/migration-fixture.js';
import { startTwoClusters } from './support/pod-runner/two-clusters.js';

/** The PVC whose client asks the server for a module it does not serve: rsync fails (exit 5, fail fast). */
const BROKEN = 'broken-data';
const world = await startTwoClusters({
  runner: {
    configHook: (pod, config) => (pod.metadata.name.includes(BROKEN) ? { ...config, module: 'no-such-module' } : config),
  },
});
t.teardown(() => world.close());
const clusters = clustersOf(world);

t.test('a failed PVC: the others succeed, the run fails, nothing is left', async (t) => {
  const pvcs: PvcRef[] = [
    ['fail-a', 'data-1'],
    ['fail-a', BROKEN],
    ['fail-b', 'data-3'],
  ];
  await seedPvcs(world, pvcs);
  destinationNamespaces(world, pvcs);
  const result = await runMigration(specFor(pvcs), { rsync_endpoint_type: 'ClusterIP', rsync_backoff_limit: 0 }, clusters);
  t.equal(result.status, 'Failed');
  const broken = result.pvcs.find((pvc) => pvc.pvc === `fail-a/${BROKEN}`)!;
  t.equal(broken.status, 'Failed');
  t.equal(broken.exitCode, 5, `exit code ${broken.exitCode}: ${broken.message}`);
  t.equal(broken.podAttempts, 1, 'a result event is final: no second pod');
  t.match(result.message, new RegExp(`1 of 3 PVC\\(s\\) failed: fail-a/${BROKEN}`));
  t.equal(await treeDifferences(world, [pvcs[0]!, pvcs[2]!]), '', 'the other PVCs arrived');
  t.same(labelledLeft(world), []);
});

t.test('pod proxy refused: the CLI reads progress from the pod log instead, prints JSON, serves --listen', async (t) => {
  const pvcs: PvcRef[] = [['logs-a', 'data-1']];
  await seedPvcs(world, pvcs);
  destinationNamespaces(world, pvcs);
  world.source.setRefusePodProxy(true);
  t.teardown(() => world.source.setRefusePodProxy(false));
  const specFile = join(world.root, 'logs-spec.yaml');
  writeFileSync(
    specFile,
    toYaml({ apiVersion: 'migration.openshift.io/v1alpha1', kind: 'DirectVolumeMigration', metadata: { name: 'logs' }, spec: specFor(pvcs) }),
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runClusterMigration({
    filename: specFile,
    json: true,
    listen: '127.0.0.1:0',
    endpointType: 'NodePort',
    sourceKubeconfig: world.mergedKubeconfig,
    sourceContext: 'source',
    destinationKubeconfig: world.mergedKubeconfig,
    destinationContext: 'destination',
    signal: new AbortController().signal,
    stdout: { write: (text: string) => stdout.push(text) !== 0 } as unknown as NodeJS.WritableStream,
    stderr: { write: (text: string) => stderr.push(text) !== 0 } as unknown as NodeJS.WritableStream,
  });
  t.equal(code, 0, stderr.join(''));
  t.match(stderr.join(''), /progress: http:\/\/127\.0\.0\.1:\d+\//, 'the progress page was served');
  const lines = stdout
    .join('')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, any>);
  t.ok(
    lines.some((line) => line.type === 'progress' && line.pvc === 'logs-a/data-1'),
    'progress events from the log, as JSON lines',
  );
  t.equal(lines.filter((line) => line.type === 'result').length, 1, 'one result event');
  const final = lines.at(-1)!;
  t.equal(final.type, 'migration-result');
  t.equal(final.runId, 'logs', 'run id from the CR name');
  t.equal(final.pvcs[0].progressSource, 'pod-log');
  t.equal(await treeDifferences(world, pvcs), '');
  t.same(labelledLeft(world), []);
});

t.test('a pod proxy that cannot reach a fast agent: its events are replayed from the log', async (t) => {
  const pvcs: PvcRef[] = [['replay-a', 'data-1']];
  await seedPvcs(world, pvcs, { files: 10 });
  destinationNamespaces(world, pvcs);
  // 503 is retried (the pod may not listen yet), so the agent is done long before the controller
  // would give up on the websocket and follow the log.
  world.source.setRefusePodProxy('unreachable');
  t.teardown(() => world.source.setRefusePodProxy(false));
  const events: ControllerEvent[] = [];
  const result = await runMigration(specFor(pvcs), { rsync_endpoint_type: 'ClusterIP' }, clusters, (event) => events.push(event));
  t.equal(result.status, 'Succeeded', result.message);
  t.equal(result.pvcs[0]!.progressSource, 'pod-log', "the events came from the finished pod's log");
  t.ok(
    events.some((event) => event.type === 'progress' && event.pvc === 'replay-a/data-1'),
    'progress events reached the watchers',
  );
  t.equal(events.filter((event) => event.type === 'result').length, 1, "still exactly one result (the termination message's)");
  t.same(labelledLeft(world), []);
});

t.test('SIGINT mid-transfer: the CLI removes every labelled object and exits 130', async (t) => {
  const pvcs: PvcRef[] = [
    ['sigint-a', 'data-1'],
    ['sigint-b', 'data-2'],
  ];
  await seedPvcs(world, pvcs, { files: 20, bigFileBytes: 3 * 1024 * 1024 });
  destinationNamespaces(world, pvcs);
  const specFile = join(world.root, 'sigint-spec.yaml');
  writeFileSync(specFile, toYaml(specFor(pvcs)));
  const settingsFile = join(world.root, 'sigint-mc.yaml');
  // Slow enough (256 KiB/s for 3+ MiB) that the interrupt lands mid-copy.
  writeFileSync(settingsFile, toYaml({ kind: 'MigrationController', spec: { rsync_endpoint_type: 'ClusterIP', rsync_opt_bwlimit: 256 } }));
  const options = {
    filename: specFile,
    settings: settingsFile,
    json: true,
    sourceKubeconfig: world.mergedKubeconfig,
    sourceContext: 'source',
    destinationKubeconfig: world.mergedKubeconfig,
    destinationContext: 'destination',
  };
  const script = `const { runClusterMigration } = await import(${JSON.stringify(new URL('../dist/controller/cli/cluster.js', import.meta.url).href)});
process.exitCode = await runClusterMigration(${JSON.stringify(options)});`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const started = Date.now();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString().replace(/^dvm:/gm, () => `[${Date.now() - started} ms] dvm:`);
  });
  let interrupted = false;
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (const line of buffered.split('\n').slice(0, -1)) {
      const event = JSON.parse(line) as { type: string; bytes?: number };
      if (!interrupted && event.type === 'progress' && (event.bytes ?? 0) > 0) {
        interrupted = true;
        stderr += `[${Date.now() - started} ms] SIGINT\n`;
        child.kill('SIGINT');
      }
    }
    buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  t.ok(interrupted, 'progress arrived and SIGINT was sent mid-transfer');
  t.equal(code, 130, stderr);
  t.match(stderr, /interrupted, removing the run's objects/);
  t.same(labelledLeft(world), [], 'nothing labelled left on either cluster');
  t.notOk(
    world.source.api.store.all().some((object) => object.kind === 'Pod'),
    'no pod left (and so no agent process)',
  );
});

t.test('bad input: one clear error line, exit 2, nothing created', async (t) => {
  const pvcs: PvcRef[] = [['bad-a', 'data-1']];
  await seedPvcs(world, pvcs);
  destinationNamespaces(world, pvcs);
  const deadKubeconfig = join(world.root, 'dead-kubeconfig');
  writeFileSync(
    deadKubeconfig,
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'dead',
      clusters: [{ name: 'dead', cluster: { server: 'https://127.0.0.1:9', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'dead', user: { token: 'x' } }],
      contexts: [{ name: 'dead', context: { cluster: 'dead', user: 'dead' } }],
    }),
  );
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp, Record<string, string>?]> = [
    ['unknown endpoint type', specFor(pvcs), { rsync_endpoint_type: 'Ingress' }, /rsync_endpoint_type: must be one of/],
    ['malformed proxy URL', specFor(pvcs), { stunnel_tcp_proxy: 'http//proxy:3128' }, /stunnel_tcp_proxy: /],
    ['non-numeric groups', specFor(pvcs), { src_supplemental_groups: '1000,staff' }, /src_supplemental_groups: must be comma-separated numeric group ids/],
    ['missing PVC', specFor([['bad-a', 'no-such-pvc']]), {}, /persistentVolumeClaims\[0\]: PVC bad-a\/no-such-pvc not found on the source cluster/],
    [
      'duplicate targets',
      {
        persistentVolumeClaims: [
          { namespace: 'bad-a', name: 'data-1', targetName: 'x' },
          { namespace: 'bad-a', name: 'data-2', targetName: 'x' },
        ],
      },
      {},
      /persistentVolumeClaims\.1\.targetName: duplicate target PVC bad-a\/x/,
    ],
    [
      'missing destination namespace',
      specFor(pvcs, { persistentVolumeClaims: [{ namespace: 'bad-a', name: 'data-1', targetNamespace: 'nowhere' }] }),
      {},
      /destination namespace nowhere does not exist \(set createDestinationNamespaces: true\)/,
    ],
    [
      'unreachable cluster',
      specFor(pvcs),
      {},
      /destination cluster https:\/\/127\.0\.0\.1:9 is unreachable/,
      { destinationKubeconfig: deadKubeconfig, destinationContext: 'dead' },
    ],
    ['unknown context', specFor(pvcs), {}, /--source-context: no context "nope" in the kubeconfig/, { sourceContext: 'nope' }],
  ];
  for (const [what, spec, settings, message, clusterFlags] of cases) {
    const specFile = join(world.root, `bad-${what.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(specFile, toYaml(spec));
    const settingsFile = `${specFile}.mc.yaml`;
    writeFileSync(settingsFile, toYaml({ apiVersion: 'migration.openshift.io/v1alpha1', kind: 'MigrationController', spec: settings }));
    const before = writeCount(world);
    const stderr: string[] = [];
    const sink = { write: (text: string) => stderr.push(text) !== 0 } as unknown as NodeJS.WritableStream;
    const code = await runClusterMigration({
      filename: specFile,
      settings: settingsFile,
      sourceKubeconfig: world.mergedKubeconfig,
      sourceContext: 'source',
      destinationKubeconfig: world.mergedKubeconfig,
      destinationContext: 'destination',
      ...clusterFlags,
      signal: new AbortController().signal,
      stdout: sink,
      stderr: sink,
    });
    const output = stderr.join('');
    t.equal(code, 2, `${what}: exit 2`);
    t.match(output, message, `${what}: ${output.trim()}`);
    t.equal(output.trim().split('\n').length, 1, `${what}: one line`);
    t.equal(writeCount(world), before, `${what}: no write reached either API server`);
  }
  t.same(labelledLeft(world), []);
});
