// Source and destination must not overlap in any form: locally after resolving symlinks (SRC inside
// DST, DST inside SRC, equal, DST a symlink to SRC, a DST that does not exist yet below SRC), and
// between PVCs in the cluster spec (two into one target; on one cluster a PVC into itself or into
// another entry's source).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../controller/config/errors.js';
import { parseSpec } from '../controller/config/load.js';
import { checkSameClusterTargets } from '../controller/config/spec.js';
import { errorLines, runDvm } from './data-safety-support.js';

const work = mkdtempSync(join(tmpdir(), 'dvm-safety-overlap-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

t.test('local SRC and DST may not overlap (exit 2, one line, nothing touched)', async (t) => {
  const outer = join(work, 'outer');
  const inner = join(outer, 'src');
  mkdirSync(inner, { recursive: true });
  writeFileSync(join(inner, 'keep.txt'), 'source data\n');
  const src = join(work, 'src2');
  mkdirSync(join(src, 'existing-sub'), { recursive: true });
  writeFileSync(join(src, 'file.txt'), 'more source data\n');
  symlinkSync(src, join(work, 'link-to-src2'));
  symlinkSync(work, join(work, 'link-to-work'));
  symlinkSync(join(outer), join(work, 'link-to-outer'));
  const cases: [string, string, string][] = [
    ['SRC inside DST', inner, outer],
    ['SRC inside DST (DST through a symlink)', inner, join(work, 'link-to-outer')],
    ['DST inside SRC', src, join(src, 'existing-sub')],
    ['DST inside SRC, not existing yet', src, join(src, 'new', 'deeper')],
    ['DST equals SRC, spelled differently', src, join(src, '.', 'existing-sub', '..')],
    ['DST a symlink to SRC', src, join(work, 'link-to-src2')],
    ['DST below a symlink into SRC', src, join(work, 'link-to-work', 'src2', 'new')],
    ['SRC a symlink to DST', join(work, 'link-to-src2'), src],
  ];
  for (const [name, from, to] of cases) {
    const run = await runDvm(['migrate', '--local', from, to, '--verify']);
    t.equal(run.code, 2, `${name}: exit 2`);
    const lines = errorLines(run.stderr);
    t.equal(lines.length, 1, `${name}: one line (${run.stderr.trim()})`);
    t.match(lines[0] ?? '', /SRC|DST/, `${name}: names SRC/DST`);
    t.match(lines[0] ?? '', /overlap|inside|same/, `${name}: says why`);
  }
  t.same(readdirSync(inner), ['keep.txt'], 'the nested source is intact');
  t.same(readdirSync(src).sort(), ['existing-sub', 'file.txt']);
  t.same(readdirSync(join(src, 'existing-sub')), [], 'nothing was copied into the source');
  t.notOk(existsSync(join(src, 'new')), 'no destination was created inside the source');
});

t.test('a sibling that merely shares a name prefix is not an overlap', async (t) => {
  const src = join(work, 'data');
  mkdirSync(src);
  writeFileSync(join(src, 'x'), 'x');
  const run = await runDvm(['migrate', '--local', src, join(work, 'data-copy')]);
  t.equal(run.code, 0, run.stderr);
});

t.test('spec: two PVCs into one target, and same-cluster self or chained mappings', async (t) => {
  const refuse = (raw: unknown, key: RegExp): void => {
    let caught: unknown;
    try {
      parseSpec(raw);
    } catch (error) {
      caught = error;
    }
    t.type(caught, ConfigError);
    t.match((caught as Error | undefined)?.message ?? '', key);
  };
  refuse(
    {
      persistentVolumeClaims: [
        { name: 'a', namespace: 'x' },
        { name: 'b', namespace: 'x', targetName: 'a' },
      ],
    },
    /persistentVolumeClaims\.1\.targetName: duplicate target PVC x\/a/,
  );
  refuse(
    {
      persistentVolumeClaims: [
        { name: 'a', namespace: 'x', targetNamespace: 'y' },
        { name: 'a', namespace: 'y' },
      ],
    },
    /persistentVolumeClaims\.1\.targetName: duplicate target PVC y\/a/,
  );

  const sameCluster = (raw: unknown): string => {
    try {
      checkSameClusterTargets(parseSpec(raw).spec);
      return '';
    } catch (error) {
      t.type(error, ConfigError);
      return (error as Error).message;
    }
  };
  t.match(sameCluster({ persistentVolumeClaims: [{ name: 'a', namespace: 'x' }] }), /persistentVolumeClaims\.0\.targetName: .*x\/a.* itself/);
  t.match(sameCluster({ persistentVolumeClaims: [{ name: 'a', namespace: 'x', targetName: 'a', targetNamespace: 'x' }] }), /persistentVolumeClaims\.0/);
  t.match(
    sameCluster({
      persistentVolumeClaims: [
        { name: 'a', namespace: 'x', targetName: 'b' },
        { name: 'b', namespace: 'x', targetName: 'c' },
      ],
    }),
    /persistentVolumeClaims\.0\.targetName: .*x\/b.*source of entry 1/,
  );
  t.equal(
    sameCluster({
      persistentVolumeClaims: [
        { name: 'a', namespace: 'x', targetName: 'a2' },
        { name: 'b', namespace: 'x', targetNamespace: 'y' },
      ],
    }),
    '',
    "distinct targets that are nobody's source are fine on one cluster",
  );
  t.doesNotThrow(() => parseSpec({ persistentVolumeClaims: [{ name: 'a', namespace: 'x' }] }), 'between two clusters a PVC keeps its name');
});
