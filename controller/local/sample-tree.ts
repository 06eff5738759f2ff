// A small but varied tree for `dvm demo`: nested dirs, many small files, an empty file, a larger
// file, a hard link, absolute and relative symlinks, and a few modes.
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeSampleTree(root: string, { smallFiles = 500, largeBytes = 64 << 20 } = {}): void {
  for (let i = 0; i < smallFiles; i += 1) {
    const dir = join(root, `dir-${i % 10}`, `sub-${i % 7}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file-${i}.txt`), `sample file ${i}\n${randomBytes(64 + (i % 4096)).toString('hex')}\n`);
  }
  writeFileSync(join(root, 'empty'), '');
  const block = randomBytes(1 << 20);
  const large = Buffer.alloc(largeBytes);
  for (let offset = 0; offset < largeBytes; offset += block.length) {
    block.copy(large, offset);
    large.writeUInt32LE(offset, offset);
  }
  writeFileSync(join(root, 'large.bin'), large);
  linkSync(join(root, 'large.bin'), join(root, 'large-hardlink.bin'));
  symlinkSync('dir-0/sub-0/file-0.txt', join(root, 'relative-link'));
  symlinkSync(join(root, 'empty'), join(root, 'absolute-link'));
  writeFileSync(join(root, 'private.key'), 'not really a key\n', { mode: 0o600 });
  writeFileSync(join(root, 'script.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'script.sh'), 0o755);
}
