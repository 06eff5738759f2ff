// What the benchmark dataset contains, decided from (size, small-file count) alone: the same spec
// always gives the same tree, so a cached copy can be reused and two runs compare like with like.
// Pure: no file system.

export interface DatasetSpec {
  totalBytes: number;
  smallFiles: number;
  /** Largest small file; DEFAULT_SMALL_MAX (64 KiB) when absent. */
  smallMaxBytes?: number;
}

export interface PlannedFile {
  /** Relative to the dataset root, '/' separated. */
  path: string;
  size: number;
}

export interface DatasetPlan {
  spec: DatasetSpec;
  files: PlannedFile[];
  /** [link path, target file path]: extra names for existing files (rsync --hard-links work). */
  hardLinks: Array<[string, string]>;
  /** [link path, link target as stored]: absolute and relative. */
  symlinks: Array<[string, string]>;
  /** Sum of files[].size: what a full copy must move. */
  bytes: number;
}

/** Bump when the plan changes shape, so stale caches are not reused. */
export const PLAN_VERSION = 1;

export const DEFAULT_SMALL_MAX = 64 * 1024;
const MEDIUM_MIN = 1024 ** 2;
const MEDIUM_MAX = 8 * 1024 ** 2;
const LARGE_MAX = 256 * 1024 ** 2;
/** Share of what is left after the small files that goes to 1-8 MiB files. */
const MEDIUM_SHARE = 0.25;

/** Small deterministic PRNG (mulberry32): reproducible sizes without a dependency. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Small files: 5% empty, the rest log-uniform 1 B..max (64 KiB by default), 100 per directory,
 * two levels deep. */
function planSmallFiles(count: number, max: number, random: () => number): PlannedFile[] {
  const files: PlannedFile[] = [];
  for (let i = 0; i < count; i++) {
    const dir = Math.floor(i / 100);
    const size = random() < 0.05 ? 0 : Math.floor(Math.exp(random() * Math.log(max)));
    files.push({ path: `small/d${pad(Math.floor(dir / 10), 3)}/e${pad(dir % 10, 1)}/f${pad(i % 100, 2)}.dat`, size });
  }
  return files;
}

function planMediumFiles(budget: number, random: () => number): PlannedFile[] {
  const files: PlannedFile[] = [];
  let left = budget;
  while (left >= MEDIUM_MIN) {
    const size = Math.min(left, MEDIUM_MIN + Math.floor(random() * (MEDIUM_MAX - MEDIUM_MIN)));
    files.push({ path: `medium/m${pad(files.length, 4)}.bin`, size });
    left -= size;
  }
  return files;
}

function planLargeFiles(budget: number): PlannedFile[] {
  const files: PlannedFile[] = [];
  let left = budget;
  while (left > 0) {
    const size = Math.min(left, LARGE_MAX);
    files.push({ path: `large/l${pad(files.length, 3)}.bin`, size });
    left -= size;
  }
  return files;
}

export function planDataset(spec: DatasetSpec): DatasetPlan {
  const random = seededRandom(0x64766d ^ spec.smallFiles);
  const small = planSmallFiles(spec.smallFiles, spec.smallMaxBytes ?? DEFAULT_SMALL_MAX, random);
  const smallBytes = small.reduce((sum, f) => sum + f.size, 0);
  const rest = Math.max(0, spec.totalBytes - smallBytes);
  const medium = planMediumFiles(Math.floor(rest * MEDIUM_SHARE), random);
  const mediumBytes = medium.reduce((sum, f) => sum + f.size, 0);
  const large = planLargeFiles(rest - mediumBytes);
  const files = [...small, ...medium, ...large];

  const linkTargets = small.filter((f) => f.size > 0).slice(0, 50);
  const hardLinks = linkTargets.map((f, i): [string, string] => [`links/hard${pad(i, 2)}`, f.path]);
  const symlinks = linkTargets.slice(0, 10).flatMap((f, i): Array<[string, string]> => [
    [`links/rel${pad(i, 2)}`, `../${f.path}`],
    [`links/abs${pad(i, 2)}`, `/nonexistent/dvm-bench/${f.path}`],
  ]);
  return { spec, files, hardLinks, symlinks, bytes: files.reduce((sum, f) => sum + f.size, 0) };
}
