// Benchmark options from flags and environment (flags win). Pure: no file system, no processes.
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface BenchOptions {
  /** Regular-file bytes in the dataset (hard links counted once). */
  totalBytes: number;
  smallFiles: number;
  reps: number;
  /** Where the dataset is generated once and reused; destinations live under it too. */
  cacheDir: string;
  /** Transport names in the order given; unknown names are an error at start. */
  transports: string[];
  jsonOut: string;
  /** Leave the destinations in place after the run (for inspection). */
  keep: boolean;
}

export const DEFAULT_TRANSPORTS = ['plain', 'stunnel', 'dvm'];

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
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
  --size SIZE           dataset size, default 1GiB            (env DVM_BENCH_SIZE)
  --small-files N       small files inside it, default 10000  (env DVM_BENCH_SMALL_FILES)
  --reps N              repetitions per measurement, default 3 (env DVM_BENCH_REPS)
  --cache DIR           dataset cache + scratch, default ~/.cache/dvm-bench (env DVM_BENCH_CACHE)
  --transports A,B,...  default ${DEFAULT_TRANSPORTS.join(',')}  (env DVM_BENCH_TRANSPORTS);
                        dvm@DIR runs the agent built in checkout DIR (compare builds in one run)
  --json FILE           results file, default bench/results/latest.json (env DVM_BENCH_JSON)
  --keep                keep destination trees after the run
quick run: node dist/bench/copy-bench.js --size 64MiB --small-files 1000 --reps 1`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv, defaultJsonOut: string): BenchOptions {
  const raw: Record<string, string | undefined> = {
    size: env.DVM_BENCH_SIZE,
    'small-files': env.DVM_BENCH_SMALL_FILES,
    reps: env.DVM_BENCH_REPS,
    cache: env.DVM_BENCH_CACHE,
    transports: env.DVM_BENCH_TRANSPORTS,
    json: env.DVM_BENCH_JSON,
  };
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--keep') { keep = true; continue; }
    if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const key = match?.[1];
    if (!match || key === undefined || !(key in raw)) throw new Error(`unknown option "${arg}"\n${USAGE}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`option --${key} needs a value`);
    raw[key] = value;
  }
  const transports = (raw.transports ?? DEFAULT_TRANSPORTS.join(',')).split(',').map((t) => t.trim()).filter(Boolean);
  if (transports.length === 0) throw new Error('--transports: needs at least one transport');
  return {
    totalBytes: raw.size ? parseSize(raw.size, '--size') : 1024 ** 3,
    smallFiles: raw['small-files'] ? parseCount(raw['small-files'], '--small-files', 0) : 10_000,
    reps: raw.reps ? parseCount(raw.reps, '--reps', 1) : 3,
    cacheDir: raw.cache ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'dvm-bench'),
    transports,
    jsonOut: raw.json ?? defaultJsonOut,
    keep,
  };
}
