// The tree helpers are what every data-path test trusts: prove compareTrees sees each kind of
// difference, and that a real rsync copy (and re-copy after mutateTree) compares equal.
import { execFileSync } from 'node:child_process';
import { chmod, chown, link, readFile, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { compareTrees, formatDifferences, generateTree, mutateTree, walk, type DifferenceKind } from './support/tree.js';

const IS_ROOT = process.getuid?.() === 0;

async function freshPair(t: Test): Promise<{ a: string; b: string }> {
  const base = await mkdtemp(join(tmpdir(), 'dvm-tree-test-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const a = join(base, 'a');
  const b = join(base, 'b');
  await generateTree(a, { files: 150, bigFileBytes: 3 * 1024 * 1024 + 17 });
  execFileSync('rsync', ['-aH', '--numeric-ids', `${a}/`, `${b}/`]);
  return { a, b };
}

function kinds(diffs: Array<{ kind: DifferenceKind }>): DifferenceKind[] {
  return [...new Set(diffs.map((d) => d.kind))].sort();
}

t.test('generated tree has the promised shape', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'dvm-tree-test-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const tree = await generateTree(join(base, 'a'), { files: 300, bigFileBytes: 2 * 1024 * 1024 });
  const entries = [...(await walk(tree.root)).values()];
  const files = entries.filter((e) => e.type === 'file');
  t.ok(files.length >= 300, `>= 300 regular files (${files.length})`);
  t.ok(
    files.some((e) => e.size === 0),
    'has empty files',
  );
  t.ok(
    files.some((e) => e.size === 2 * 1024 * 1024),
    'has the big file',
  );
  t.ok(
    entries.some((e) => e.path.split('/').length >= 3 && e.type === 'dir'),
    'has nested dirs',
  );
  const targets = entries.filter((e) => e.type === 'symlink').map((e) => e.linkTarget ?? '');
  t.ok(
    targets.some((x) => x.startsWith('/')),
    'absolute symlink',
  );
  t.ok(
    targets.some((x) => x.startsWith('..')),
    'relative symlink',
  );
  t.ok(tree.hardLinkGroups.length >= 3 && tree.hardLinkGroups.every((g) => g.length >= 2 && g.length <= 3), 'hard-link groups of 2-3');
  t.ok(new Set(files.map((e) => e.mode)).size >= 4, 'varied modes');
  t.ok(new Set(files.map((e) => e.mtimeS)).size > 50, 'varied mtimes');
  if (IS_ROOT) t.ok(new Set(files.map((e) => e.uid)).size >= 3, 'varied owners');
  const again = await generateTree(join(base, 'b'), { files: 300 });
  const names = (await walk(again.root)).keys();
  t.ok(
    [...names].every((p) => p === 'dir-00/big.img' || entries.some((e) => e.path === p)),
    'same seed, same names',
  );
});

t.test('an rsync -aH copy compares equal, and each kind of difference is detected', async (t) => {
  const { a, b } = await freshPair(t);
  t.same(await compareTrees(a, b), [], 'identical after rsync -aH');

  const entries = [...(await walk(b)).values()];
  const files = entries.filter((e) => e.type === 'file' && e.size > 10 && e.size < 1e6 && !e.path.includes('hardlink')).map((e) => e.path);
  const [f1, f2, f3, f4, f5, f6] = files as [string, string, string, string, string, string];

  // content: same size, one byte different, mtime restored (rsync's quick check would miss it)
  const e1 = entries.find((e) => e.path === f1)!;
  const flipped = await readFile(join(b, f1));
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  await writeFile(join(b, f1), flipped);
  await utimes(join(b, f1), e1.mtimeS, e1.mtimeS);
  let diffs = await compareTrees(a, b);
  t.same(kinds(diffs), ['content'], 'content change found');
  t.equal(diffs[0]?.path, f1);

  await chmod(join(b, f2), 0o601);
  await utimes(join(b, f3), 12345, 12345);
  await unlink(join(b, f4));
  await writeFile(join(b, 'stray-extra'), 'x');
  diffs = await compareTrees(a, b);
  t.same(kinds(diffs), ['content', 'extra', 'missing', 'mode', 'mtime'].sort(), formatDifferences(diffs));

  const { a: a2, b: b2 } = await freshPair(t);
  const link = entries.find((e) => e.type === 'symlink' && e.linkTarget?.startsWith('..'))!;
  await unlink(join(b2, link.path));
  await symlink('../elsewhere', join(b2, link.path));
  diffs = await compareTrees(a2, b2, { symlinkTimes: false, owners: false });
  t.same(kinds(diffs.filter((d) => d.path === link.path)), ['target'], 'symlink target change found');

  // type: a file replaced by a directory
  await unlink(join(b2, f5));
  await execFileSync('mkdir', [join(b2, f5)]);
  diffs = await compareTrees(a2, b2, { symlinkTimes: false, rootAttributes: false });
  t.ok(kinds(diffs).includes('type'), 'type change found');

  if (IS_ROOT) {
    const { a: a3, b: b3 } = await freshPair(t);
    await chown(join(b3, f6), 4321, 4321);
    diffs = await compareTrees(a3, b3);
    t.same(kinds(diffs), ['owner'], 'owner change found');
    t.same(await compareTrees(a3, b3, { owners: false }), [], 'owners ignored when asked');
  }
});

t.test('hard-link identity: broken links and extra links are differences', async (t) => {
  const { a, b } = await freshPair(t);
  const groups = [...(await walk(a)).values()].filter((e) => e.type === 'file');
  const byInode = new Map<number, string[]>();
  for (const e of groups) byInode.set(e.ino, [...(byInode.get(e.ino) ?? []), e.path]);
  const group = [...byInode.values()].find((g) => g.length >= 2)!;
  t.ok(group, 'source has a hard-link group');
  // Break the link on the destination: same content, same attributes, separate inode.
  const member = group[1]!;
  execFileSync('cp', ['-p', join(b, member), join(b, `${member}.tmp`)]);
  execFileSync('mv', [join(b, `${member}.tmp`), join(b, member)]);
  const parent = member.split('/').slice(0, -1).join('/');
  const parentTime = (await walk(a)).get(parent)!.mtimeS;
  await utimes(join(b, parent), parentTime, parentTime);
  let diffs = await compareTrees(a, b);
  t.same(kinds(diffs), ['hardlink'], `broken link found: ${formatDifferences(diffs)}`);

  // Fresh copy made without -H: every group differs.
  const noH = `${b}-noH`;
  execFileSync('rsync', ['-a', '--numeric-ids', `${a}/`, `${noH}/`]);
  diffs = await compareTrees(a, noH);
  t.ok(diffs.length > 0 && diffs.every((d) => d.kind === 'hardlink'), 'rsync without -H is caught');

  // An extra link on the destination joining two unrelated files is caught too.
  const { a: a2, b: b2 } = await freshPair(t);
  const single = [...byInode.values()]
    .filter((g) => g.length === 1)
    .map((g) => g[0]!)
    .slice(0, 2);
  await unlink(join(b2, single[1]!));
  await link(join(b2, single[0]!), join(b2, single[1]!));
  diffs = await compareTrees(a2, b2);
  t.ok(kinds(diffs).includes('hardlink'), 'joined inode found');
});

t.test('directory and root attributes count', async (t) => {
  const { a, b } = await freshPair(t);
  await utimes(join(b, 'dir-01'), 1, 1);
  t.same(kinds(await compareTrees(a, b)), ['mtime'], 'directory mtime change found');
  await utimes(b, 1, 1);
  t.equal((await compareTrees(a, b)).filter((d) => d.path === '').length, 1, 'root mtime compared by default');
  t.equal((await compareTrees(a, b, { rootAttributes: false })).filter((d) => d.path === '').length, 0, 'and ignorable');
});

t.test('mutateTree makes a difference that a second rsync removes', async (t) => {
  const { a, b } = await freshPair(t);
  const mutation = await mutateTree(a);
  t.ok(mutation.added.length > 0 && mutation.changed.length > 0 && mutation.deleted.length > 0, 'adds, changes and deletes');
  const diffs = await compareTrees(a, b);
  const kindsFound = kinds(diffs);
  for (const kind of ['missing', 'extra', 'content', 'mtime', 'mode', 'target'] as const) {
    t.ok(kindsFound.includes(kind), `mutation shows up as ${kind}`);
  }
  execFileSync('rsync', ['-aH', '--numeric-ids', '--delete', `${a}/`, `${b}/`]);
  t.same(await compareTrees(a, b), [], 'equal after a second rsync with --delete');
});
