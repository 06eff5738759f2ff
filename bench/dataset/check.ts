// A cheap sanity check that a copy is whole (counts, bytes, links), so a transport that silently
// drops data cannot look fast. Content equality is the tests' job, not the benchmark's.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetPlan } from './plan.js';

export interface TreeSummary {
  /** Distinct regular-file inodes. */
  files: number;
  bytes: number;
  /** Extra names of regular files (hard links beyond the first). */
  extraLinks: number;
  symlinks: number;
}

export function summarizeTree(root: string): TreeSummary {
  const seen = new Set<string>();
  const summary: TreeSummary = { files: 0, bytes: 0, extraLinks: 0, symlinks: 0 };
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
        continue;
      }
      if (entry.isSymbolicLink()) {
        summary.symlinks++;
        continue;
      }
      if (!entry.isFile()) continue;
      const stat = lstatSync(path);
      const id = `${stat.dev}:${stat.ino}`;
      if (seen.has(id)) {
        summary.extraLinks++;
        continue;
      }
      seen.add(id);
      summary.files++;
      summary.bytes += stat.size;
    }
  };
  walk(root);
  return summary;
}

export function expectedSummary(plan: DatasetPlan): TreeSummary {
  return { files: plan.files.length, bytes: plan.bytes, extraLinks: plan.hardLinks.length, symlinks: plan.symlinks.length };
}

/** undefined when equal, else a one-line description of the first difference. */
export function compareSummaries(actual: TreeSummary, expected: TreeSummary): string | undefined {
  for (const key of ['files', 'bytes', 'extraLinks', 'symlinks'] as const) {
    if (actual[key] !== expected[key]) return `${key}: expected ${expected[key]}, found ${actual[key]}`;
  }
  return undefined;
}
