// --tmpfs: a RAM file system for the run, so the disk (ext4 inode allocation, writeback) does not
// decide the figures. A tmpfs mounted for this run (root), else a directory under /dev/shm; either
// is removed at the end. The dataset is still generated once into the disk cache and copied in
// (cp -a keeps hard links, symlinks and times): a copy takes seconds, generating takes tens.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, rmdirSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetPlan } from './dataset/plan.js';

const TMPFS_MAGIC = 0x01021994;
const PAGE = 4096;

export interface Tmpfs {
  root: string;
  /** mount: a tmpfs mounted for this run; dev-shm: a directory in the machine's /dev/shm tmpfs. */
  kind: 'mount' | 'dev-shm';
  sizeBytes?: number;
  dispose(): void;
}

function isTmpfs(dir: string): boolean {
  try {
    return statfsSync(dir).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/** What `trees` copies of the dataset take on a tmpfs (every non-empty file rounds up to a page),
 * plus room for directories, configs and logs. */
export function tmpfsBytesFor(plan: DatasetPlan, trees: number): number {
  const tree = plan.files.reduce((sum, f) => sum + Math.ceil(f.size / PAGE) * PAGE, 0);
  return Math.ceil((tree * trees * 1.1 + 256 * 1024 ** 2) / PAGE) * PAGE;
}

export function createTmpfs(sizeBytes: number): Tmpfs {
  const mountPoint = mkdtempSync(join(tmpdir(), 'dvm-bench-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'dvm-bench', mountPoint], { encoding: 'utf8' });
  if (mounted.status === 0 && isTmpfs(mountPoint)) {
    return {
      root: mountPoint,
      kind: 'mount',
      sizeBytes,
      dispose() {
        // A straggler with a file open keeps the mount busy: detach it then (it is ours alone).
        if (spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint]);
        try {
          rmdirSync(mountPoint);
        } catch {
          /* still busy; empty either way */
        }
      },
    };
  }
  rmdirSync(mountPoint);
  if (!isTmpfs('/dev/shm')) {
    throw new Error(`--tmpfs: mount -t tmpfs failed (${(mounted.stderr ?? mounted.error?.message ?? '').trim()}) and /dev/shm is not a tmpfs`);
  }
  const dir = mkdtempSync('/dev/shm/dvm-bench-');
  return { root: dir, kind: 'dev-shm', dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** cp -a SRC DST: the dataset tree as it is, hard links, symlinks and times included. */
export function copyTree(source: string, destination: string): void {
  if (existsSync(destination)) throw new Error(`${destination} exists already`);
  const result = spawnSync('cp', ['-a', source, destination], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cp -a ${source} ${destination} failed: ${(result.stderr ?? '').trim() || result.error?.message}`);
}
