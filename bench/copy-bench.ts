// `make bench`: one dataset, every transport, full copy + no-change re-sync, N interleaved repetitions,
// medians and ratios to the plain rsync daemon. See bench/README.md.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { compareSummaries, expectedSummary, summarizeTree } from './dataset/check.js';
import { ensureDataset } from './dataset/generate.js';
import { currentLoad, describeMachine } from './machine.js';
import { measureCopy } from './measure.js';
import { USAGE, parseOptions, type BenchOptions } from './options.js';
import { writeBenchPki } from './pki-files.js';
import { createCpuMeter, type CpuMeter } from './processes/cpu-meter.js';
import { stopAllServices } from './processes/service.js';
import { formatTable, summarize, type Sample, type TransportInfo } from './report.js';
import { interleavedSchedule } from './schedule.js';
import type { PreparedTransport, Transport, TransportContext } from './transport.js';
import { TRANSPORTS, findTransport } from './transports/index.js';

const log = pino({ name: 'dvm-bench' }, pino.destination(2));
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Set while a run is on, so an interrupt can remove the cgroups it made. */
let activeMeter: CpuMeter | undefined;

interface Active {
  transport: Transport;
  context: TransportContext;
  prepared?: PreparedTransport;
  error?: string;
}

/** A multi-line error (command + output tail) as one table line. */
function oneLine(message: string): string {
  return message.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 4).join(' | ').slice(0, 400);
}

function emptyDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

function selectTransports(options: BenchOptions): Transport[] {
  return options.transports.map((name) => {
    const transport = findTransport(name);
    if (!transport) throw new Error(`--transports: unknown transport "${name}" (known: ${TRANSPORTS.map((t) => t.name).join(', ')})`);
    return transport;
  });
}

async function prepareAll(actives: Active[]): Promise<void> {
  for (const active of actives) {
    const reason = active.transport.unavailable();
    if (reason) { active.error = `skipped: ${reason}`; log.warn({ transport: active.transport.name, reason }, 'transport unavailable'); continue; }
    try {
      active.prepared = await active.transport.prepare(active.context);
    } catch (error) {
      active.error = `prepare failed: ${oneLine((error as Error).message)}`;
      log.error({ transport: active.transport.name, err: error }, 'prepare failed');
    }
  }
}

async function runSchedule(actives: Active[], options: BenchOptions, meter: CpuMeter, expected: ReturnType<typeof expectedSummary>): Promise<Sample[]> {
  const samples: Sample[] = [];
  const byName = new Map(actives.map((a) => [a.transport.name, a]));
  const schedule = interleavedSchedule(actives.filter((a) => a.prepared).map((a) => a.transport.name), options.reps);
  for (const [index, { rep, transport }] of schedule.entries()) {
    const active = byName.get(transport)!;
    const prepared = active.prepared;
    if (!prepared || active.error) continue;
    try {
      emptyDirectory(active.context.destDir);
      const full = await measureCopy(meter, transport, prepared, join(active.context.workDir, `full-${rep}.log`));
      const difference = compareSummaries(summarizeTree(active.context.destDir), expected);
      if (difference) throw new Error(`destination incomplete after the full copy: ${difference}`);
      samples.push({ transport, rep, phase: 'full', ...full });
      const resync = await measureCopy(meter, transport, prepared, join(active.context.workDir, `resync-${rep}.log`));
      samples.push({ transport, rep, phase: 'resync', ...resync });
      log.info({ run: `${index + 1}/${schedule.length}`, transport, rep, full: full.seconds.toFixed(2), resync: resync.seconds.toFixed(2) }, 'measured');
    } catch (error) {
      active.error = `copy failed (rep ${rep}): ${oneLine((error as Error).message)}`;
      log.error({ transport, rep, err: error }, 'copy failed; no further runs of this transport');
    }
  }
  return samples;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env, join(REPO_ROOT, 'bench/results/latest.json'));
  const transports = selectTransports(options);
  mkdirSync(options.cacheDir, { recursive: true });

  const startedAt = new Date();
  const dataset = ensureDataset(options.cacheDir, { totalBytes: options.totalBytes, smallFiles: options.smallFiles }, (plan) =>
    log.info({ bytes: plan.bytes, files: plan.files.length, cacheDir: options.cacheDir }, 'generating dataset (once; reused by later runs)'));
  log.info({ root: dataset.root, bytes: dataset.plan.bytes, files: dataset.plan.files.length, generated: dataset.generated }, 'dataset ready');

  const runDir = join(options.cacheDir, 'run');
  rmSync(runDir, { recursive: true, force: true });
  const pki = await writeBenchPki(join(runDir, 'pki'));
  const meter = createCpuMeter();
  activeMeter = meter;
  const loadAtStart = currentLoad();
  log.info({ cpuMeter: meter.kind }, meter.kind === 'cgroup' ? 'CPU measured per cgroup' : 'CPU measured from /proc (helpers rsync does not reap are missed)');
  const actives: Active[] = transports.map((transport) => {
    const workDir = join(runDir, transport.name);
    const destDir = join(workDir, 'dst');
    mkdirSync(destDir, { recursive: true });
    const charge = (side: 'client' | 'server', command: string, args: string[]) => meter.wrap(transport.name, side, command, args);
    return { transport, context: { workDir, destDir, sourceDir: dataset.root, pki, charge } };
  });

  let samples: Sample[] = [];
  try {
    await prepareAll(actives);
    samples = await runSchedule(actives, options, meter, expectedSummary(dataset.plan));
  } finally {
    for (const active of actives) await active.prepared?.teardown().catch((error) => log.warn({ err: error }, 'teardown failed'));
    if (!options.keep) for (const active of actives) rmSync(active.context.destDir, { recursive: true, force: true });
    meter.dispose();
    activeMeter = undefined;
  }

  const infos: TransportInfo[] = actives.map((a) => ({ name: a.transport.name, description: a.transport.description, ...(a.error ? { error: a.error } : {}) }));
  const baseline = samples.some((s) => s.transport === 'plain') ? 'plain' : (samples[0]?.transport ?? 'plain');
  const summaries = summarize(infos, samples, dataset.plan.bytes, baseline);
  const results = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: describeMachine(loadAtStart),
    cpuMeter: meter.kind,
    conditions: 'warm page cache (source cached; page cache is not dropped); dirty pages flushed (sync) before each timed copy; wall clock',
    dataset: {
      bytes: dataset.plan.bytes,
      files: dataset.plan.files.length,
      smallFiles: options.smallFiles,
      hardLinks: dataset.plan.hardLinks.length,
      symlinks: dataset.plan.symlinks.length,
      generatedThisRun: dataset.generated,
    },
    reps: options.reps,
    baseline,
    summary: summaries,
    samples,
  };
  mkdirSync(dirname(options.jsonOut), { recursive: true });
  writeFileSync(options.jsonOut, `${JSON.stringify(results, null, 2)}\n`);

  const gib = (dataset.plan.bytes / 1024 ** 3).toFixed(2);
  if (loadAtStart > cpus().length / 2) {
    process.stdout.write(`\nnote: the machine was busy (1-min load ${loadAtStart.toFixed(1)} on ${cpus().length} cores): compare ratios within this run only\n`);
  }
  process.stdout.write(`\ndataset: ${gib} GiB in ${dataset.plan.files.length} files (${options.smallFiles} small), ${options.reps} rep(s), warm cache, ${cpus().length} cores\n\n`);
  process.stdout.write(`${formatTable(summaries, baseline)}\n\nresults: ${options.jsonOut}\n`);
  if (summaries.some((s) => s.error && !s.error.startsWith('skipped'))) process.exitCode = 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopAllServices();
    // cgroups can only be removed once the processes in them have gone.
    setTimeout(() => { activeMeter?.dispose(); process.exit(130); }, 500);
  });
}

main().catch((error: Error) => {
  stopAllServices();
  activeMeter?.dispose();
  process.stderr.write(`${error.message}\n`);
  process.exit(error.message === USAGE ? 0 : 2);
});
