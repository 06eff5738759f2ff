// Writes a planned dataset once into the cache and reuses it on later runs. Contents are an AES-CTR
// keystream: incompressible (like real volume data would be to a cipher) and fast to produce.
import { createCipheriv } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_SMALL_MAX, PLAN_VERSION, planDataset, type DatasetPlan, type DatasetSpec } from './plan.js';

export interface Dataset {
  /** The tree rsync copies (pass with a trailing slash). */
  root: string;
  plan: DatasetPlan;
  /** False when an earlier run had already generated it. */
  generated: boolean;
}

const CHUNK = 4 * 1024 * 1024;

class Keystream {
  private readonly cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  private readonly zeros = Buffer.alloc(CHUNK);
  next(size: number): Buffer {
    return this.cipher.update(this.zeros.subarray(0, size));
  }
}

function writeFileFromStream(path: string, size: number, stream: Keystream): void {
  const fd = openSync(path, 'w', 0o644);
  try {
    for (let left = size; left > 0; left -= CHUNK) writeSync(fd, stream.next(Math.min(left, CHUNK)));
  } finally {
    closeSync(fd);
  }
}

function writePlan(root: string, plan: DatasetPlan): void {
  const stream = new Keystream();
  const made = new Set<string>();
  const ensureDir = (file: string) => {
    const dir = dirname(file);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
  };
  for (const file of plan.files) {
    const path = join(root, file.path);
    ensureDir(path);
    writeFileFromStream(path, file.size, stream);
  }
  for (const [link, target] of plan.hardLinks) {
    ensureDir(join(root, link));
    linkSync(join(root, target), join(root, link));
  }
  for (const [link, target] of plan.symlinks) {
    ensureDir(join(root, link));
    symlinkSync(target, join(root, link));
  }
}

export function datasetDirName(spec: DatasetSpec): string {
  const max = spec.smallMaxBytes ?? DEFAULT_SMALL_MAX;
  // The default small-file size keeps the old name, so caches of earlier runs stay valid.
  return `dataset-v${PLAN_VERSION}-${spec.totalBytes}b-${spec.smallFiles}f${max === DEFAULT_SMALL_MAX ? '' : `-max${max}b`}`;
}

/** Generates into <cacheDir>/<name>/tree unless a complete copy is already there. */
export function ensureDataset(cacheDir: string, spec: DatasetSpec, onGenerate?: (plan: DatasetPlan) => void): Dataset {
  const plan = planDataset(spec);
  const dir = join(cacheDir, datasetDirName(spec));
  const root = join(dir, 'tree');
  const marker = join(dir, 'complete.json');
  if (existsSync(marker)) {
    const recorded = JSON.parse(readFileSync(marker, 'utf8')) as { bytes?: number };
    if (recorded.bytes === plan.bytes) return { root, plan, generated: false };
  }
  onGenerate?.(plan);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writePlan(root, plan);
  // Written last: its presence means the tree is whole.
  writeFileSync(marker, JSON.stringify({ spec, bytes: plan.bytes, files: plan.files.length, createdAt: new Date().toISOString() }, null, 2));
  return { root, plan, generated: true };
}
