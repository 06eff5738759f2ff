// Measures the source before rsync starts, so progress has a real total from the first event:
// bytes of regular files (a hard-linked file counted once) and the number of entries.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface SourceSize {
  bytes: number;
  entries: number;
}

export async function measureSource(root: string): Promise<SourceSize> {
  const seen = new Set<string>();
  let bytes = 0;
  let entries = 0;
  const pending: string[] = [root];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    entries += 1;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        pending.push(path);
        continue;
      }
      entries += 1;
      if (!entry.isFile()) continue;
      const stats = await lstat(path, { bigint: true });
      const inode = `${stats.dev}:${stats.ino}`;
      if (stats.nlink > 1n) {
        if (seen.has(inode)) continue;
        seen.add(inode);
      }
      bytes += Number(stats.size);
    }
  }
  return { bytes, entries };
}
