// Sparse files stay sparse by default (also with --inplace), and xattrs/ACLs arrive when
// rsync_opt_xattrs / rsync_opt_acls ask for them (off by default, like MTC). Real rsync through
// the local migration path (the CLI, and the library with settings the CLI has no flag for).
import { execFileSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { AgentEvent, ResultEvent } from '../contract/events.js';
import { parseLocalOptions } from '../controller/local/options.js';
import { compareByBytes, runDvm } from './data-safety-support.js';

type RunLocal = typeof import('../controller/local/run-local.js');
const { runLocalMigration } = (await import(new URL('../dist/controller/local/run-local.js', import.meta.url).href)) as RunLocal;

const MiB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'dvm-safety-sparse-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const allocated = (path: string): number => lstatSync(path).blocks * 512;

function writeSparse(path: string, size: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  for (const offset of [0, Math.floor(size / 3), size - MiB]) writeSync(fd, Buffer.alloc(64 * 1024, 0x5a), 0, 64 * 1024, offset);
  closeSync(fd);
}

const source = join(work, 'source');
mkdirSync(source);
writeSparse(join(source, 'disk.img'), 256 * MiB);
writeFileSync(join(source, 'dense.bin'), Buffer.alloc(3 * MiB, 1));

t.test('a sparse file arrives sparse, by default and with --inplace', async (t) => {
  t.ok(allocated(join(source, 'disk.img')) < 2 * MiB, 'the source is sparse');
  for (const [name, extras] of [
    ['default', []],
    ['inplace', ['--rsync-extras', '--inplace']],
  ] as const) {
    const destination = join(work, `dst-${name}`);
    const run = await runDvm(['migrate', '--local', source, destination, '--json', '--verify', ...extras]);
    t.equal(run.code, 0, `${name}: copied (${run.stderr.trim()})`);
    t.equal(run.result?.verified, true, `${name}: verified`);
    t.same(compareByBytes(source, destination), [], `${name}: identical content`);
    const used = allocated(join(destination, 'disk.img'));
    t.ok(used < 4 * MiB, `${name}: the 256 MiB image allocates ${(used / MiB).toFixed(1)} MiB, not 256`);
    t.ok(allocated(join(destination, 'dense.bin')) >= 3 * MiB, `${name}: a dense file stays dense`);
  }
});

const python = (code: string, ...args: string[]): string => execFileSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
const SET = `import os, struct, sys
os.setxattr(sys.argv[1], 'user.dvm.note', b'keep me')
entries = [(1, 6, 0xffffffff), (2, 6, 4242), (4, 4, 0xffffffff), (0x10, 6, 0xffffffff), (0x20, 4, 0xffffffff)]
os.setxattr(sys.argv[1], 'system.posix_acl_access', struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in entries))`;
const GET = `import os, sys
for name in sorted(os.listxattr(sys.argv[1])): print(name, os.getxattr(sys.argv[1], name).hex())`;

t.test('xattrs and ACLs: kept with rsync_opt_xattrs / rsync_opt_acls, not by default', async (t) => {
  const tagged = join(work, 'tagged');
  mkdirSync(tagged);
  writeFileSync(join(tagged, 'file.txt'), 'has an xattr and an ACL\n');
  try {
    python(SET, join(tagged, 'file.txt'));
  } catch (error) {
    t.comment(`skipped: this filesystem cannot hold user xattrs and ACLs: ${(error as Error).message.split('\n')[0]}`);
    return;
  }
  const expected = python(GET, join(tagged, 'file.txt'));
  t.match(expected, /system\.posix_acl_access/);
  t.match(expected, /user\.dvm\.note/);

  const migrate = async (destination: string, settings: Record<string, unknown>): Promise<ResultEvent | null> => {
    const options = parseLocalOptions(tagged, destination, { verify: true });
    const events: AgentEvent[] = [];
    const { result } = await runLocalMigration({ ...options, settings: { ...options.settings, ...settings } }, (event) => events.push(event));
    return result;
  };
  const kept = join(work, 'dst-kept');
  const keptResult = await migrate(kept, { rsync_opt_xattrs: true, rsync_opt_acls: true });
  t.equal(keptResult?.status, 'Succeeded', String(keptResult?.message));
  t.equal(keptResult?.verified, true, 'verified, xattrs and ACLs compared');
  t.equal(python(GET, join(kept, 'file.txt')), expected, 'the xattr and the ACL arrived');

  const plain = join(work, 'dst-plain');
  const plainResult = await migrate(plain, {});
  t.equal(plainResult?.status, 'Succeeded');
  t.equal(python(GET, join(plain, 'file.txt')), '', 'off by default (like MTC): documented in the settings table');
});
