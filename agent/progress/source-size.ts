// Measures the source before rsync starts, so progress has a real total from the first event:
// bytes of regular files (a hard-linked file counted once) and the number of entries.
// Synchronous on purpose: nothing else runs yet, and the sync calls cost a fifth of the async ones'
// CPU on a tree of small files (measured in bench/).
// Names are bytes (Buffers), never strings: a name that is not valid UTF-8 would be decoded with
// U+FFFD and no longer name the file.
import { lstatSync, readdirSync } from 'node:fs';

const SLASH = Buffer.from('/');

export interface SourceSize {
  bytes: number;
  entries: number;
}

export function measureSource(root: string): SourceSize {
  const seenInodes = new Set<string>();
  let bytes = 0;
  let entries = 0;
  const pending: Buffer[] = [Buffer.from(root)];
  while (pending.length > 0) {
    const dir = pending.pop() as Buffer;
    entries += 1;
    for (const entry of readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const path = Buffer.concat([dir, SLASH, entry.name]);
      if (entry.isDirectory()) {
        pending.push(path);
        continue;
      }
      entries += 1;
      if (!entry.isFile()) continue;
      const stats = lstatSync(path);
      if (stats.nlink > 1) {
        const inode = `${stats.dev}:${stats.ino}`;
        if (seenInodes.has(inode)) continue;
        seenInodes.add(inode);
      }
      bytes += stats.size;
    }
  }
  return { bytes, entries };
}
