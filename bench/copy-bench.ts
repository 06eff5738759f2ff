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
import { PIN_CPUS, USAGE, parseOptions, type BenchOptions } from './options.js';
import { writeBenchPki } from './pki-files.js';
import { createCpuMeter, type CpuMeter } from './processes/cpu-meter.js';
import { createCpuQuota, pinningUnavailable, placedCommand, type CpuQuota, type Side } from './processes/placement.js';
import { stopAllServices } from './processes/service.js';
import { formatTable, summarize, type Sample, type TransportInfo } from './report.js';
import { interleavedSchedule } from './schedule.js';
import { copyTree, createTmpfs, tmpfsBytesFor, type Tmpfs } from './tmpfs.js';
import type { PreparedTransport, Transport, TransportContext } from './transport.js';
import { TRANSPORTS, findTransport } from './transports/index.js';

const log = pino({ name: 'dvm-bench' }, pino.destination(2));
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** What a run made outside its cache dir (cgroups, a tmpfs), undone last-made first at its end or
 * on an interrupt. */
const cleanups: Array<() => void> = [];
function cleanUp(): void {
  for (const undo of cleanups.splice(0).reverse()) {
    try {
      undo();
    } catch (error) {
      log.warn({ err: error }, 'clean-up failed');
    }
  }
}

interface Active {
  transport: Transport;
  context: TransportContext;
  prepared?: PreparedTransport;
  error?: string;
}

/** A multi-line error (command + output tail) as one table line. */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 4)
    .join(' | ')
    .slice(0, 400);
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
    if (reason) {
      active.error = `skipped: ${reason}`;
      log.warn({ transport: active.transport.name, reason }, 'transport unavailable');
      continue;
    }
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
  const schedule = interleavedSchedule(
    actives.filter((a) => a.prepared).map((a) => a.transport.name),
    options.reps,
  );
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
      // Only one destination at a time holds a copy (a tmpfs holds it in RAM).
      if (!options.keep) emptyDirectory(active.context.destDir);
      log.info({ run: `${index + 1}/${schedule.length}`, transport, rep, full: full.seconds.toFixed(2), resync: resync.seconds.toFixed(2) }, 'measured');
    } catch (error) {
      active.error = `copy failed (rep ${rep}): ${oneLine((error as Error).message)}`;
      log.error({ transport, rep, err: error }, 'copy failed; no further runs of this transport');
    }
  }
  return samples;
}

interface Placement {
  pin: typeof PIN_CPUS | null;
  tmpfs: { kind: Tmpfs['kind']; root: string; sizeBytes?: number } | null;
  cpuQuota: { cpusPerSide: number } | null;
  /** Per transport and side: CPU seconds per CPU over the whole run (cgroup meter), and with
   * --pin the share on the side's own CPU (1 = all of it). */
  cpuByCore?: Record<string, Record<Side, { perCpuSeconds: number[]; shareOnPinnedCpu?: number }>>;
  /** Per transport and side, with --cpu-quota: how often the quota held the side back. */
  throttling?: Record<string, Record<Side, ReturnType<CpuQuota['throttling']>>>;
}

/** Where each side's CPU went (and whether the quota bit), read before the groups go away. */
function readPlacement(placement: Placement, names: string[], meter: CpuMeter, quota: CpuQuota | undefined): string[] {
  const notes: string[] = [];
  const sides: Side[] = ['client', 'server'];
  if (meter.kind === 'cgroup') {
    placement.cpuByCore = {};
    for (const name of names) {
      placement.cpuByCore[name] = Object.fromEntries(
        sides.map((side) => {
          const perCpuSeconds = meter.perCpu(name, side) ?? [];
          const total = perCpuSeconds.reduce((a, b) => a + b, 0);
          const shareOnPinnedCpu = placement.pin && total > 0 ? (perCpuSeconds[placement.pin[side]] ?? 0) / total : undefined;
          return [side, { perCpuSeconds, ...(shareOnPinnedCpu === undefined ? {} : { shareOnPinnedCpu }) }];
        }),
      ) as Record<Side, { perCpuSeconds: number[]; shareOnPinnedCpu?: number }>;
    }
    if (placement.pin) {
      const shares = names.flatMap((name) => sides.map((side) => ({ name, side, share: placement.cpuByCore![name]![side].shareOnPinnedCpu ?? 1 })));
      const off = shares.filter((s) => s.share < 0.999);
      notes.push(
        off.length === 0
          ? `pinning checked (cpuacct per CPU): all client-side CPU time on CPU ${placement.pin.client}, all server-side on CPU ${placement.pin.server}`
          : `WARNING pinning leaked: ${off.map((s) => `${s.name} ${s.side} ${(s.share * 100).toFixed(1)}% on its CPU`).join(', ')}`,
      );
    }
  } else if (placement.pin) {
    notes.push('pinning not checked (no cpuacct cgroups: per-CPU time unknown)');
  }
  if (quota) {
    placement.throttling = {};
    for (const name of names) {
      placement.throttling[name] = Object.fromEntries(sides.map((side) => [side, quota.throttling(name, side)])) as Record<
        Side,
        ReturnType<CpuQuota['throttling']>
      >;
    }
    notes.push(
      `cpu quota ${quota.cpus} per side; throttled seconds c/s: ${names
        .map((n) => `${n} ${placement.throttling![n]!.client.throttledSeconds.toFixed(1)}/${placement.throttling![n]!.server.throttledSeconds.toFixed(1)}`)
        .join(', ')}`,
    );
  }
  return notes;
}

function describeConditions(placement: Placement): string {
  return [
    placement.tmpfs
      ? `dataset copy and destinations on a tmpfs (${placement.tmpfs.kind === 'mount' ? 'mounted for the run' : 'under /dev/shm'})`
      : "warm page cache (source cached; page cache is not dropped); destinations on the cache dir's file system",
    'dirty pages flushed (sync) before each timed copy',
    placement.pin
      ? `client side pinned to CPU ${placement.pin.client}, server side to CPU ${placement.pin.server} (taskset, inherited by children)`
      : 'not pinned (the scheduler places every process)',
    ...(placement.cpuQuota ? [`cgroup v1 CPU quota of ${placement.cpuQuota.cpusPerSide} CPU per side`] : []),
    'wall clock',
  ].join('; ');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env, join(REPO_ROOT, 'bench/results/latest.json'));
  const transports = selectTransports(options);
  if (options.pin) {
    const reason = pinningUnavailable([PIN_CPUS.client, PIN_CPUS.server]);
    if (reason) throw new Error(`--pin: ${reason}`);
  }
  mkdirSync(options.cacheDir, { recursive: true });

  const startedAt = new Date();
  const spec = { totalBytes: options.totalBytes, smallFiles: options.smallFiles, smallMaxBytes: options.smallMaxBytes };
  const dataset = ensureDataset(options.cacheDir, spec, (plan) =>
    log.info({ bytes: plan.bytes, files: plan.files.length, cacheDir: options.cacheDir }, 'generating dataset (once; reused by later runs)'),
  );
  log.info({ root: dataset.root, bytes: dataset.plan.bytes, files: dataset.plan.files.length, generated: dataset.generated }, 'dataset ready');

  const placement: Placement = { pin: options.pin ? PIN_CPUS : null, tmpfs: null, cpuQuota: options.cpuQuota ? { cpusPerSide: 1 } : null };
  let sourceDir = dataset.root;
  let runDir = join(options.cacheDir, 'run');
  if (options.tmpfs) {
    const tmpfs = createTmpfs(tmpfsBytesFor(dataset.plan, 1 + transports.length));
    cleanups.push(() => tmpfs.dispose());
    placement.tmpfs = { kind: tmpfs.kind, root: tmpfs.root, ...(tmpfs.sizeBytes ? { sizeBytes: tmpfs.sizeBytes } : {}) };
    const copyStart = Date.now();
    sourceDir = join(tmpfs.root, 'dataset');
    copyTree(dataset.root, sourceDir);
    runDir = join(tmpfs.root, 'run');
    log.info({ tmpfs: placement.tmpfs, copySeconds: (Date.now() - copyStart) / 1000 }, 'dataset copied onto the tmpfs');
  }
  rmSync(runDir, { recursive: true, force: true });
  const pki = await writeBenchPki(join(runDir, 'pki'));
  const meter = createCpuMeter();
  cleanups.push(() => meter.dispose());
  let quota: CpuQuota | undefined;
  if (options.cpuQuota) {
    try {
      quota = createCpuQuota(1);
    } catch (error) {
      throw new Error(`--cpu-quota: ${(error as Error).message}`);
    }
    cleanups.push(() => quota?.dispose());
  }
  const loadAtStart = currentLoad();
  log.info(
    { cpuMeter: meter.kind, placement },
    meter.kind === 'cgroup' ? 'CPU measured per cgroup' : 'CPU measured from /proc (helpers rsync does not reap are missed)',
  );
  const actives: Active[] = transports.map((transport) => {
    const workDir = join(runDir, transport.name);
    const destDir = join(workDir, 'dst');
    mkdirSync(destDir, { recursive: true });
    const charge = (side: Side, command: string, args: string[]) =>
      placedCommand(
        { command, args },
        [...meter.groups(transport.name, side), ...(quota?.groups(transport.name, side) ?? [])],
        options.pin ? PIN_CPUS[side] : undefined,
      );
    return { transport, context: { workDir, destDir, sourceDir, pki, charge } };
  });

  let samples: Sample[] = [];
  let placementNotes: string[] = [];
  try {
    await prepareAll(actives);
    samples = await runSchedule(actives, options, meter, expectedSummary(dataset.plan));
  } finally {
    for (const active of actives) await active.prepared?.teardown().catch((error) => log.warn({ err: error }, 'teardown failed'));
    if (!options.keep) for (const active of actives) rmSync(active.context.destDir, { recursive: true, force: true });
    try {
      placementNotes = readPlacement(
        placement,
        actives.filter((a) => a.prepared).map((a) => a.transport.name),
        meter,
        quota,
      );
    } catch (error) {
      log.warn({ err: error }, 'could not read where the CPU went');
    }
    if (options.keep && placement.tmpfs) {
      log.warn({ root: placement.tmpfs.root }, '--keep with --tmpfs: the destinations go with the tmpfs at the end of the run');
    }
    cleanUp();
  }

  const infos: TransportInfo[] = actives.map((a) => ({ name: a.transport.name, description: a.transport.description, ...(a.error ? { error: a.error } : {}) }));
  const baseline = samples.some((s) => s.transport === 'plain') ? 'plain' : (samples[0]?.transport ?? 'plain');
  const summaries = summarize(infos, samples, dataset.plan.bytes, baseline);
  const finishedAt = new Date();
  const results = {
    version: 2,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    runSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    command: process.argv.slice(2),
    machine: describeMachine(loadAtStart),
    cpuMeter: meter.kind,
    conditions: describeConditions(placement),
    placement,
    dataset: {
      name: options.dataset,
      bytes: dataset.plan.bytes,
      files: dataset.plan.files.length,
      smallFiles: options.smallFiles,
      smallMaxBytes: options.smallMaxBytes,
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
    process.stdout.write(
      `\nnote: the machine was busy (1-min load ${loadAtStart.toFixed(1)} at the start, ${currentLoad().toFixed(1)} at the end, on ${cpus().length} cores): compare ratios within this run only\n`,
    );
  }
  const shape = [
    placement.pin ? `pinned: client CPU ${placement.pin.client}, server CPU ${placement.pin.server}` : 'not pinned',
    placement.tmpfs ? `tmpfs (${placement.tmpfs.kind})` : 'cache dir file system',
    ...(placement.cpuQuota ? ['CPU quota 1 per side'] : []),
  ].join(', ');
  process.stdout.write(
    `\ndataset ${options.dataset}: ${gib} GiB in ${dataset.plan.files.length} files (${options.smallFiles} small), ${options.reps} rep(s), ${cpus().length} cores; ${shape}\n\n`,
  );
  process.stdout.write(`${formatTable(summaries, baseline)}\n\n`);
  for (const note of placementNotes) process.stdout.write(`${note}\n`);
  process.stdout.write(`run took ${results.runSeconds.toFixed(0)} s; results: ${options.jsonOut}\n`);
  if (summaries.some((s) => s.error && !s.error.startsWith('skipped'))) process.exitCode = 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // cgroups (and a tmpfs) can only be removed once the processes in them have gone.
    void stopAllServices()
      .then(() => new Promise((resolve) => setTimeout(resolve, 200)))
      .then(() => {
        cleanUp();
        process.exit(130);
      });
  });
}

main().catch(async (error: Error) => {
  await stopAllServices();
  cleanUp();
  process.stderr.write(`${error.message}\n`);
  process.exit(error.message === USAGE ? 0 : 2);
});
