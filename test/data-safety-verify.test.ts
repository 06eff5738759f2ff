// The verify pass answers "is the destination equal to the source" whatever the copy's options were,
// and options that would delete or skip data are refused before anything runs. Real rsync through
// `dvm migrate --local`.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { compareByBytes, errorLines, runDvm } from './data-safety-support.js';

const work = mkdtempSync(join(tmpdir(), 'dvm-safety-verify-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const source = join(work, 'source');
mkdirSync(join(source, 'sub'), { recursive: true });
writeFileSync(join(source, 'a.txt'), 'alpha\n');
writeFileSync(join(source, 'sub', 'b.bin'), Buffer.alloc(4096, 7));
writeFileSync(join(source, 'big.bin'), Buffer.alloc(64 * 1024, 1));

t.test('--exclude=* --verify into an empty destination: not verified, the filter is named', async (t) => {
  const destination = join(work, 'dst-exclude');
  const run = await runDvm(['migrate', '--local', source, destination, '--json', '--verify', '--rsync-extras', '--exclude=*']);
  t.not(run.code, 0, 'a partial tree is not a success');
  t.equal(run.result?.status, 'Failed');
  t.equal(run.result?.verified, false, 'never verified: true for a partial tree');
  t.match(run.result?.message ?? '', '--exclude=*', `names the option that limited the copy: ${run.result?.message}`);
  t.match(run.result?.message ?? '', /a\.txt|sub|big\.bin/, 'shows the first differences');
});

t.test('a filter that kept an extra destination file from deletion shows in the verify', async (t) => {
  const destination = join(work, 'dst-extra');
  mkdirSync(destination);
  writeFileSync(join(destination, 'stale.log'), 'left over\n');
  const run = await runDvm(['migrate', '--local', source, destination, '--json', '--verify', '--rsync-extras', '--exclude=stale.log']);
  t.not(run.code, 0);
  t.equal(run.result?.verified, false, 'the extra file makes the trees differ');
  t.match(run.result?.message ?? '', 'stale.log');
  t.match(run.result?.message ?? '', '--exclude=stale.log');
  t.ok(existsSync(join(destination, 'stale.log')), 'the verify deleted nothing (dry run)');
});

t.test('an unlimited copy verifies', async (t) => {
  const destination = join(work, 'dst-plain');
  const run = await runDvm(['migrate', '--local', source, destination, '--json', '--verify', '--rsync-extras', '--inplace --checksum']);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.result?.verified, true);
  t.same(compareByBytes(source, destination), []);
});

t.test('options that skip or delete data are refused before anything runs (exit 2, one line)', async (t) => {
  const populated = join(work, 'dst-populated');
  mkdirSync(populated);
  writeFileSync(join(populated, 'precious.db'), 'do not delete\n');
  const cases: [string, string, string][] = [
    ['--max-size=1', join(work, 'dst-max'), '--max-size=1'],
    ['--min-size=1', join(work, 'dst-min'), '--min-size=1'],
    ['--exclude=* --delete-excluded', populated, '--delete-excluded'],
    ['--chmod=D0777,F4777', join(work, 'dst-chmod'), '--chmod=D0777,F4777'],
    ['--modify-window=99999999999999999999', join(work, 'dst-window'), '--modify-window=99999999999999999999'],
    ['--crtimes', join(work, 'dst-crtimes'), '--crtimes'],
    ['--copy-links', join(work, 'dst-links'), '--copy-links'],
  ];
  for (const [extras, destination, token] of cases) {
    const run = await runDvm(['migrate', '--local', source, destination, '--verify', '--rsync-extras', extras]);
    t.equal(run.code, 2, `${extras}: exit 2 (bad input)`);
    const lines = errorLines(run.stderr);
    t.equal(lines.length, 1, `${extras}: one line (${run.stderr.trim()})`);
    t.match(lines[0] ?? '', 'rsync_opt_extras', `${extras}: names the setting`);
    t.match(lines[0] ?? '', token, `${extras}: names the token`);
    t.equal(run.stdout, '', `${extras}: no events`);
  }
  t.same(readdirSync(populated), ['precious.db'], 'the populated destination is untouched');
  t.equal(readFileSync(join(populated, 'precious.db'), 'utf8'), 'do not delete\n');
  for (const name of ['dst-max', 'dst-min', 'dst-chmod', 'dst-window', 'dst-crtimes', 'dst-links']) {
    t.notOk(existsSync(join(work, name)), `${name} was not created`);
  }
});
