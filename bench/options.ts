// Benchmark options from flags and environment (flags win). Pure: no file system, no processes.
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface BenchOptions {
  /** The preset the sizes came from (flags override its sizes). */
  dataset: DatasetName;
  /** Regular-file bytes in the dataset (hard links counted once). */
  totalBytes: number;
  smallFiles: number;
  /** Largest small file. */
  smallMaxBytes: number;
  reps: number;
  /** Where the dataset is generated once and reused; destinations live under it too. */
  cacheDir: string;
  /** Transport names in the order given; unknown names are an error at start. */
  transports: string[];
  jsonOut: string;
  /** Leave the destinations in place after the run (for inspection). */
  keep: boolean;
  /** Client-side processes on CPU 0, server-side ones on CPU 1 (taskset; children inherit it). */
  pin: boolean;
  /** Dataset copy and destinations on a tmpfs made for the run (removed at its end). */
  tmpfs: boolean;
  /** A cgroup v1 CPU quota of one CPU per side (cpu.cfs_quota_us), as a pod's CPU limit. */
  cpuQuota: boolean;
}

/** Client side on CPU 0, server side on CPU 1, as two pods on two nodes. */
export const PIN_CPUS = { client: 0, server: 1 } as const;

/** Named datasets: `default` is the mixed 1 GiB tree every earlier figure used; `many-files` is
 * 200,000 files of at most 16 KiB (no large ones), for the no-change re-sync a CutOver pays. */
export const DATASETS = {
  default: { totalBytes: 1024 ** 3, smallFiles: 10_000, smallMaxBytes: 64 * 1024 },
  'many-files': { totalBytes: 0, smallFiles: 200_000, smallMaxBytes: 16 * 1024 },
} as const;
export type DatasetName = keyof typeof DATASETS;

export const DEFAULT_TRANSPORTS = ['plain', 'stunnel', 'dvm'];

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/** "1GiB", "512MiB", "300m", "1073741824" -> bytes. */
export function parseSize(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (!match || unit === undefined) throw new Error(`${what}: "${text}" is not a size such as 1GiB, 256MiB or 1048576`);
  return Math.round(Number(match[1]) * unit);
}

function parseCount(text: string, what: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${what}: "${text}" must be a whole number >= ${min}`);
  return value;
}

export const USAGE = `usage: node dist/bench/copy-bench.js [options]
  --dataset NAME        default (1 GiB, 10000 small files of <= 64 KiB) or many-files
                        (200000 files of <= 16 KiB, ~0.3 GiB)  (env DVM_BENCH_DATASET)
  --size SIZE           dataset size, overrides the preset's; 0 = small files only (env DVM_BENCH_SIZE)
  --small-files N       small files inside it, overrides the preset's (env DVM_BENCH_SMALL_FILES)
  --reps N              repetitions per measurement, default 3 (env DVM_BENCH_REPS)
  --cache DIR           dataset cache + scratch, default ~/.cache/dvm-bench (env DVM_BENCH_CACHE)
  --transports A,B,...  default ${DEFAULT_TRANSPORTS.join(',')}  (env DVM_BENCH_TRANSPORTS);
                        dvm@DIR runs the agent built in checkout DIR (compare builds in one run)
  --json FILE           results file, default bench/results/latest.json (env DVM_BENCH_JSON)
  --keep                keep destination trees after the run
  --pin                 deployment shape: client agent, rsync sender, stunnel client on CPU 0;
                        server agent, rsync receiver/daemon, stunnel server on CPU 1 (taskset)
  --tmpfs               dataset (copied from the cache) and destinations on a tmpfs mounted for
                        the run (a directory under /dev/shm if mounting is refused), removed after
  --cpu-quota           cgroup v1 CPU quota of 1 CPU per side (cpu.cfs_quota_us; needs root)
quick run: node dist/bench/copy-bench.js --size 64MiB --small-files 1000 --reps 1`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv, defaultJsonOut: string): BenchOptions {
  const raw: Record<string, string | undefined> = {
    dataset: env.DVM_BENCH_DATASET,
    size: env.DVM_BENCH_SIZE,
    'small-files': env.DVM_BENCH_SMALL_FILES,
    reps: env.DVM_BENCH_REPS,
    cache: env.DVM_BENCH_CACHE,
    transports: env.DVM_BENCH_TRANSPORTS,
    json: env.DVM_BENCH_JSON,
  };
  const flags = { keep: false, pin: false, tmpfs: false, 'cpu-quota': false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const flag = /^--([a-z-]+)$/.exec(arg)?.[1];
    if (flag !== undefined && flag in flags) {
      flags[flag as keyof typeof flags] = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const key = match?.[1];
    if (!match || key === undefined || !(key in raw)) throw new Error(`unknown option "${arg}"\n${USAGE}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`option --${key} needs a value`);
    raw[key] = value;
  }
  const transports = (raw.transports ?? DEFAULT_TRANSPORTS.join(','))
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (transports.length === 0) throw new Error('--transports: needs at least one transport');
  const dataset = (raw.dataset ?? 'default') as DatasetName;
  if (!Object.hasOwn(DATASETS, dataset)) throw new Error(`--dataset: "${raw.dataset}" is not one of ${Object.keys(DATASETS).join(', ')}`);
  const preset = DATASETS[dataset];
  return {
    dataset,
    totalBytes: raw.size ? parseSize(raw.size, '--size') : preset.totalBytes,
    smallFiles: raw['small-files'] ? parseCount(raw['small-files'], '--small-files', 0) : preset.smallFiles,
    smallMaxBytes: preset.smallMaxBytes,
    reps: raw.reps ? parseCount(raw.reps, '--reps', 1) : 3,
    cacheDir: raw.cache ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'dvm-bench'),
    transports,
    jsonOut: raw.json ?? defaultJsonOut,
    keep: flags.keep,
    pin: flags.pin || env.DVM_BENCH_PIN === '1',
    tmpfs: flags.tmpfs || env.DVM_BENCH_TMPFS === '1',
    cpuQuota: flags['cpu-quota'] || env.DVM_BENCH_CPU_QUOTA === '1',
  };
}
