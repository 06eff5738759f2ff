// Any byte sequence is a file name: names that are not valid UTF-8, with newlines, tabs or escape
// sequences, and 255-byte names copy, and count, correctly (the source-size walk, progress and the
// result). Real rsync through `dvm migrate --local`; trees compared by raw bytes.
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { measureSource } from '../agent/progress/source-size.js';
import { compareByBytes, runDvm } from './data-safety-support.js';

const work = mkdtempSync(join(tmpdir(), 'dvm-safety-names-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const source = join(work, 'source');

const at = (...parts: (string | Buffer)[]): Buffer =>
  Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [Buffer.from(part)] : [Buffer.from('/'), Buffer.from(part)])));
const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]); // "caf\xe9.txt": Latin-1, invalid UTF-8
const garbage = Buffer.from([0xff, 0xfe, 0x80, 0x2d, 0xc3, 0x28, 0x2e, 0x62, 0x69, 0x6e]);
const invalidDir = Buffer.from([0x64, 0x69, 0x72, 0x2d, 0xed, 0xa0, 0x80]); // a UTF-16 surrogate in UTF-8: invalid
const longAscii = 'n'.repeat(255);
const longUtf8 = `${'é'.repeat(127)}x`; // 255 bytes
let bytes = 0;
const file = (path: Buffer, content: Buffer): void => {
  writeFileSync(path, content);
  bytes += content.length;
};

mkdirSync(source);
file(at(source, latin1), Buffer.from('latin-1 name\n'));
file(at(source, garbage), Buffer.alloc(10_000, 3));
file(at(source, 'line\nbreak.txt'), Buffer.from('newline in the name\n'));
file(at(source, 'tab\tand\x1b[31mescape'), Buffer.from('control characters\n'));
file(at(source, longAscii), Buffer.from('255 bytes of name\n'));
file(at(source, longUtf8), Buffer.from('255 bytes, 128 characters\n'));
mkdirSync(at(source, invalidDir));
file(at(source, invalidDir, garbage), Buffer.alloc(5000, 9));
mkdirSync(at(source, invalidDir, 'line\nbreak dir'));
file(at(source, invalidDir, 'line\nbreak dir', latin1), Buffer.from('deep\n'));
linkSync(at(source, garbage), at(source, invalidDir, Buffer.concat([Buffer.from('hard-'), latin1])));
symlinkSync(garbage, at(source, Buffer.concat([Buffer.from('link-'), latin1])));
// entries: the root, 6 top-level files, the symlink, the odd dir with its file, hard link and
// nested dir, and the nested dir's file
const ENTRIES = 1 + 6 + 1 + 1 + 3 + 1;

t.test('the source walk reads names as bytes', async (t) => {
  for (const implementation of ['native', 'js'] as const) {
    t.same(await measureSource(source, { implementation }), { bytes, entries: ENTRIES }, `${implementation}: every entry counted, the hard link once`);
  }
});

t.test('names that are not UTF-8 copy and count correctly', async (t) => {
  const destination = join(work, 'destination');
  const run = await runDvm(['migrate', '--local', source, destination, '--json', '--verify']);
  t.equal(run.code, 0, `copied (${run.stderr.trim().split('\n').pop()})`);
  t.equal(run.result?.status, 'Succeeded');
  t.equal(run.result?.verified, true, 'the verify pass agrees');
  t.equal(run.result?.attempts, 1);
  t.equal(run.result?.files, ENTRIES, 'the result counts every entry');
  t.equal(run.lastProgress?.filesTotal, ENTRIES, 'progress counts every entry');
  t.equal(run.lastProgress?.totalBytes, bytes, 'progress totals every byte (the hard link once)');
  t.same(compareByBytes(source, destination), [], 'identical, byte for byte, names included');
});
