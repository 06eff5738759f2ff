// Issue 5, scenario 9 (+8): the controller process is interrupted (SIGINT or SIGTERM) in each phase of
// a cluster migration against two fake clusters (pod runner: pods are real local agent processes).
// Each interrupted run exits 130 and leaves zero labelled objects and no agent process; a re-run
// afterwards succeeds and the destination volume equals the source. All six phases with DVM_SLOW=1.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startTwoClusters, type TwoClusters } from '../support/pod-runner/two-clusters.js';
import { compareTrees, formatDifferences, generateTree } from '../support/tree.js';
import { leakedSecrets } from './support/checks.js';
import { processTree, waitFor } from './support/processes.js';

const DIST = resolve(import.meta.dirname, '../../dist');
const DVM_CLI = join(DIST, 'controller/cli/dvm.js');
/** Every API request takes this long, so each phase lasts long enough to be interrupted inside it. */
const API_LATENCY_MS = 20;

interface PhaseCase {
  phase: string;
  /** The stderr (phase log) or stdout (event) line that says the phase has begun. */
  begun: RegExp;
  stream: 'stderr' | 'stdout';
  signal: NodeJS.Signals;
}

const phaseLogged = (phase: string): RegExp => new RegExp(`"phase":"${phase}"`);
/** Phases are recognised by the controller's JSON log on stderr (DVM_LOG_LEVEL=info). */
const ALL_PHASES: PhaseCase[] = [
  { phase: 'preflight', begun: phaseLogged('preflight'), stream: 'stderr', signal: 'SIGINT' },
  { phase: 'stale-cleanup', begun: phaseLogged('stale-cleanup'), stream: 'stderr', signal: 'SIGTERM' },
  { phase: 'destination', begun: phaseLogged('destination'), stream: 'stderr', signal: 'SIGINT' },
  { phase: 'servers', begun: phaseLogged('servers'), stream: 'stderr', signal: 'SIGTERM' },
  { phase: 'clients', begun: phaseLogged('clients'), stream: 'stderr', signal: 'SIGINT' },
  { phase: 'mid-copy', begun: /"type":"progress".*"bytes":[1-9]/, stream: 'stdout', signal: 'SIGTERM' },
];
/** Each interrupted run costs ~10 s: CI interrupts three phases (both signals, objects on both
 * clusters, pods running, mid-copy); DVM_SLOW=1 interrupts all six. */
const PHASES = process.env.DVM_SLOW === '1' ? ALL_PHASES : ALL_PHASES.filter((c) => ['destination', 'servers', 'mid-copy'].includes(c.phase));

/** Slows the fake API server down: wraps its request handler (test-only, at run time). */
function addLatency(world: TwoClusters, ms: number): void {
  for (const cluster of [world.source, world.destination]) {
    const api = cluster.api as unknown as { handle: (...args: unknown[]) => Promise<void> };
    const handle = api.handle.bind(api);
    api.handle = async (...args: unknown[]) => {
      await sleep(ms);
      return handle(...args);
    };
  }
}

function labelledObjects(world: TwoClusters): string[] {
  return (['source', 'destination'] as const).flatMap((side) =>
    [...world[side].labelled('owner=directvolumemigration'), ...world[side].labelled('app=directvolumemigration-rsync-transfer')].map(
      (object) => `${side}: ${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`,
    ),
  );
}

function agentProcesses(): number[] {
  return processTree(process.pid)
    .slice(1)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('agent/dvm-agent.js');
      } catch {
        return false;
      }
    });
}

t.test('the controller interrupted in each phase leaves nothing behind; a re-run succeeds', async (t) => {
  const world = await startTwoClusters();
  t.teardown(() => world.close());
  const source = world.seedSourcePvc('shop', 'orders');
  await generateTree(source, { files: 200, bigFileBytes: 8 * 1024 * 1024 });
  world.seedNamespace('destination', 'shop');
  const spec = join(world.root, 'dvm.yaml');
  writeFileSync(
    spec,
    JSON.stringify({
      apiVersion: 'migration.openshift.io/v1alpha1',
      kind: 'DirectVolumeMigration',
      metadata: { name: 'faults' },
      spec: { persistentVolumeClaims: [{ name: 'orders', namespace: 'shop' }] },
    }),
  );
  const slowSettings = join(world.root, 'slow.yaml');
  writeFileSync(slowSettings, JSON.stringify({ rsync_opt_bwlimit: 2000 }));
  const clusterFlags = {
    sourceKubeconfig: world.mergedKubeconfig,
    sourceContext: 'source',
    destinationKubeconfig: world.mergedKubeconfig,
    destinationContext: 'destination',
  };
  // The real `dvm migrate -f` once the CLI has it; until then the same function in its own process.
  const wired = execFileSync(process.execPath, [DVM_CLI, 'migrate', '--help'], { encoding: 'utf8' }).includes('--filename');
  const command = (settings?: string): string[] =>
    wired
      ? [
          DVM_CLI,
          'migrate',
          '-f',
          spec,
          '--json',
          ...(settings ? ['--settings', settings] : []),
          '--source-kubeconfig',
          world.mergedKubeconfig,
          '--source-context',
          'source',
          '--destination-kubeconfig',
          world.mergedKubeconfig,
          '--destination-context',
          'destination',
        ]
      : [
          '--input-type=module',
          '-e',
          `import { runClusterMigration } from ${JSON.stringify(join(DIST, 'controller/cli/cluster.js'))};
       process.exitCode = await runClusterMigration(${JSON.stringify({ filename: spec, json: true, ...(settings ? { settings } : {}), ...clusterFlags })});`,
        ];
  t.comment(wired ? 'running `dvm migrate -f`' : 'dvm migrate -f is not wired yet: running runClusterMigration in its own process');
  addLatency(world, API_LATENCY_MS);
  const outputs: string[] = [];

  for (const c of PHASES) {
    await t.test(`${c.signal} in phase ${c.phase}`, async (t) => {
      const child = spawn(process.execPath, command(slowSettings), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DVM_LOG_LEVEL: 'info' } });
      const stderr: string[] = [];
      let signalled = false;
      let phaseAtSignal = '';
      const onLine =
        (stream: 'stdout' | 'stderr') =>
        (line: string): void => {
          outputs.push(line);
          if (stream === 'stderr') stderr.push(line);
          const phase = /"phase":"([a-z-]+)"/.exec(line)?.[1];
          if (stream === 'stderr' && phase && !signalled) phaseAtSignal = phase;
          if (!signalled && stream === c.stream && c.begun.test(line)) {
            signalled = true;
            child.kill(c.signal);
          }
        };
      createInterface({ input: child.stdout! }).on('line', onLine('stdout'));
      createInterface({ input: child.stderr! }).on('line', onLine('stderr'));
      const exitCode = await new Promise<number | null>((resolveExit) => child.once('close', resolveExit));
      t.ok(signalled, `the run reached phase ${c.phase} and got ${c.signal} (last phase logged: ${phaseAtSignal})`);
      t.equal(exitCode, 130, `exits 130 (${stderr.slice(-2).join(' | ')})`);
      t.ok(
        stderr.some((line) => /interrupted/.test(line)),
        'says it was interrupted',
      );
      t.same(labelledObjects(world), [], 'zero labelled objects on both clusters');
      await waitFor(() => agentProcesses().length === 0, 15_000, 'agent pods to stop').catch(() => undefined);
      t.same(agentProcesses(), [], 'no agent process left running');
    });
  }

  await t.test('a re-run afterwards succeeds', async (t) => {
    const child = spawn(process.execPath, command(), { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: string[] = [];
    const stderr: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      outputs.push(line);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderr.push(line);
      outputs.push(line);
    });
    const exitCode = await new Promise<number | null>((resolveExit) => child.once('close', resolveExit));
    t.equal(exitCode, 0, `exits 0 (${stderr.slice(-2).join(' | ')})`);
    const result = stdout
      .map((line) => {
        try {
          return JSON.parse(line) as { type?: string; status?: string };
        } catch {
          return {};
        }
      })
      .find((event) => event.type === 'migration-result');
    t.equal(result?.status, 'Succeeded', 'the migration result is Succeeded');
    t.equal(formatDifferences(await compareTrees(source, world.pvcDir('destination', 'shop', 'orders'))), '', 'the destination volume equals the source');
    t.same(labelledObjects(world), [], 'and nothing is left behind');
  });

  t.same(leakedSecrets(outputs.join('\n'), [world.source.token, world.destination.token]), [], 'no cluster token in any output');
  t.notOk(
    outputs.some((line) => line.includes('PRIVATE KEY')),
    'no private key in any output',
  );
});
