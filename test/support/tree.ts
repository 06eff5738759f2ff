// Test trees: generate a realistic one, mutate it the way a second sync would see, and compare two
// trees by walking both. Test-only; nothing here is used by the product.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const MiB = 1024 * 1024;

export interface TreeOptions {
  /** Regular small files (hard-link extras and empty files are part of this count). Default 1000. */
  files?: number;
  /** One big file of this many bytes (0 = none). Default 0. */
  bigFileBytes?: number;
  /** Same seed, same tree (names, sizes, modes, mtimes); content of the big file is random. */
  seed?: number;
  /** chown entries to a few uid/gid pairs. Default: when running as root. */
  owners?: boolean;
  /** Largest small file. Default 64 KiB. */
  maxFileBytes?: number;
}

export interface GeneratedTree {
  root: string;
  files: number;
  dirs: number;
  symlinks: number;
  hardLinkGroups: string[][];
  bigFile?: string;
  /** Sum of regular-file sizes, each hard-linked inode counted once. */
  bytes: number;
}

/** Small deterministic PRNG (mulberry32): the same seed gives the same tree. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILE_MODES = [0o644, 0o600, 0o755, 0o640, 0o444, 0o700, 0o664, 0o750];
const DIR_MODES = [0o755, 0o750, 0o700, 0o775];
const OWNERS: Array<[number, number]> = [
  [0, 0],
  [1000, 1000],
  [1001, 2000],
  [65534, 65534],
  [4242, 1000],
];
const ODD_NAMES = ['with space.txt', 'ünïcödé-файл.dat', 'quote\'and"double', '-leading-dash', '#hash%percent&amp', '.hidden'];
/** Fixed base time (2023-11-14): mtimes differ from "now", so a copy that forgets them is caught. */
const BASE_TIME_S = 1_700_000_000;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function contentFor(random: () => number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) buf.writeUInt32LE((random() * 4294967296) >>> 0, i);
  for (; i < size; i++) buf[i] = Math.floor(random() * 256);
  return buf;
}

/** Incompressible, non-repeating content: an AES-CTR keystream under a random key (GB/s fast).
 * No block repeats anywhere, so rsync's delta algorithm cannot find matches within the file. */
export async function writeBigFile(path: string, bytes: number): Promise<void> {
  const keystream = createCipheriv('aes-128-ctr', randomBytes(16), Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const handle = await open(path, 'w');
  try {
    for (let offset = 0; offset < bytes; offset += MiB) {
      const block = keystream.update(zeros);
      await handle.write(block, 0, Math.min(MiB, bytes - offset), offset);
    }
  } finally {
    await handle.close();
  }
}

export async function generateTree(root: string, options: TreeOptions = {}): Promise<GeneratedTree> {
  const random = prng(options.seed ?? 1);
  const fileCount = options.files ?? 1000;
  const maxFileBytes = options.maxFileBytes ?? 64 * 1024;
  const owners = options.owners ?? IS_ROOT;
  await mkdir(root, { recursive: true });

  // Nested directories: a few top-level ones, each with sub-levels, up to depth 4.
  const dirs: string[] = [''];
  const topLevel = Math.max(3, Math.ceil(Math.sqrt(fileCount) / 3));
  for (let i = 0; i < topLevel; i++) {
    let parent = `dir-${String(i).padStart(2, '0')}`;
    dirs.push(parent);
    const depth = 1 + Math.floor(random() * 4);
    for (let d = 1; d < depth; d++) {
      parent = join(parent, d === 2 ? 'with space' : `level-${d}`);
      dirs.push(parent);
    }
  }
  dirs.push('empty-dir', join('empty-dir', 'nested-empty'));
  for (const dir of dirs) await mkdir(join(root, dir), { recursive: true });

  const regular: string[] = [];
  const hardLinkGroups: string[][] = [];
  let bytes = 0;
  let made = 0;
  const nextName = (dir: string, index: number): string => {
    if (index < ODD_NAMES.length) return join(dir, ODD_NAMES[index] as string);
    return join(dir, `file-${String(index).padStart(5, '0')}.${pick(random, ['txt', 'bin', 'log', 'json', 'dat'])}`);
  };
  while (made < fileCount) {
    const dir = pick(
      random,
      dirs.filter((d) => !d.startsWith('empty-dir')),
    );
    const path = nextName(dir, made);
    // 1 in 12 is empty; the rest are small, skewed towards tiny.
    const size = random() < 1 / 12 ? 0 : Math.floor(random() ** 3 * maxFileBytes) + 1;
    await writeFile(join(root, path), contentFor(random, size));
    regular.push(path);
    bytes += size;
    made++;
    // Every 40th file gets 1 or 2 extra names elsewhere (a hard-link group of 2-3).
    if (made % 40 === 0 && made < fileCount) {
      const group = [path];
      const extra = random() < 0.5 ? 1 : 2;
      for (let e = 0; e < extra && made < fileCount; e++) {
        const other = join(
          pick(
            random,
            dirs.filter((d) => !d.startsWith('empty-dir')),
          ),
          `hardlink-${made}-${e}`,
        );
        await link(join(root, path), join(root, other));
        group.push(other);
        made++;
      }
      hardLinkGroups.push(group);
    }
  }

  let bigFile: string | undefined;
  if (options.bigFileBytes && options.bigFileBytes > 0) {
    bigFile = join('dir-00', 'big.img');
    await writeBigFile(join(root, bigFile), options.bigFileBytes);
    regular.push(bigFile);
    bytes += options.bigFileBytes;
  }

  // Symlinks: relative, absolute (points outside the tree and must arrive unchanged), to a dir, dangling.
  const symlinks: Array<[string, string]> = [
    [join('dir-01', 'relative-link'), join('..', regular[ODD_NAMES.length] as string)],
    ['absolute-link', '/etc/hostname'],
    ['absolute-into-tree', '/srv/data/dir-00/file'],
    ['dir-link', 'dir-02'],
    [join('dir-00', 'dangling-link'), 'does-not-exist/anywhere'],
    [join('dir-02', 'odd target link'), '../with space.txt'],
  ];
  for (const [path, target] of symlinks) await symlink(target, join(root, path));

  // Modes, owners and mtimes last, deepest directories after their contents.
  const hardLinked = new Set(hardLinkGroups.flatMap((group) => group.slice(1)));
  for (const path of regular) {
    if (hardLinked.has(path)) continue;
    const full = join(root, path);
    await chmod(full, pick(random, FILE_MODES));
    if (owners) {
      const [uid, gid] = pick(random, OWNERS);
      await chown(full, uid, gid);
    }
    const mtime = BASE_TIME_S - Math.floor(random() * 86400 * 365);
    await utimes(full, mtime, mtime);
  }
  for (const [path] of symlinks) {
    const full = join(root, path);
    if (owners) {
      const [uid, gid] = pick(random, OWNERS);
      await lchown(full, uid, gid);
    }
    const mtime = BASE_TIME_S - Math.floor(random() * 86400 * 30);
    await lutimes(full, mtime, mtime);
  }
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
    const full = join(root, dir);
    await chmod(full, dir === '' ? 0o755 : pick(random, DIR_MODES));
    if (owners && dir !== '') {
      const [uid, gid] = pick(random, OWNERS);
      await chown(full, uid, gid);
    }
    const mtime = BASE_TIME_S - Math.floor(random() * 86400 * 10);
    await utimes(full, mtime, mtime);
  }

  return { root, files: made + (bigFile ? 1 : 0), dirs: dirs.length, symlinks: symlinks.length, hardLinkGroups, bigFile, bytes };
}

export interface TreeMutation {
  added: string[];
  changed: string[];
  deleted: string[];
}

/** What a second sync sees: new files (and a new dir), changed content (with a new mtime, which
 * rsync's quick check needs), a mode change, a retargeted symlink, deleted files and a deleted dir. */
export async function mutateTree(root: string, seed = 2): Promise<TreeMutation> {
  const random = prng(seed);
  const entries = await walk(root);
  const files = [...entries.values()]
    .filter((e) => e.type === 'file' && !e.path.includes('hardlink-'))
    .map((e) => e.path)
    .sort();
  const result: TreeMutation = { added: [], changed: [], deleted: [] };
  const newTime = BASE_TIME_S + 3600;
  const take = (): string => {
    const index = Math.floor(random() * files.length);
    const [path] = files.splice(index, 1);
    return path as string;
  };

  for (let i = 0; i < 5 && files.length > 10; i++) {
    const path = take();
    await writeFile(join(root, path), contentFor(random, 100 + Math.floor(random() * 5000)));
    await utimes(join(root, path), newTime + i, newTime + i);
    result.changed.push(path);
  }
  // Same size, different content, different mtime.
  for (let i = 0; i < 3 && files.length > 10; i++) {
    const path = take();
    const old = await readFile(join(root, path));
    if (old.length === 0) continue;
    const flipped = Buffer.from(old.map((byte) => byte ^ 0xff));
    await writeFile(join(root, path), flipped);
    await utimes(join(root, path), newTime + 100 + i, newTime + 100 + i);
    result.changed.push(path);
  }
  const modeChanged = take();
  await chmod(join(root, modeChanged), 0o604);
  result.changed.push(modeChanged);
  for (let i = 0; i < 5 && files.length > 10; i++) {
    const path = take();
    await rm(join(root, path));
    result.deleted.push(path);
  }
  if (entries.get('empty-dir/nested-empty')) {
    await rm(join(root, 'empty-dir', 'nested-empty'), { recursive: true });
    result.deleted.push('empty-dir/nested-empty');
  }
  await mkdir(join(root, 'added-dir', 'deeper'), { recursive: true });
  for (let i = 0; i < 4; i++) {
    const path = join(i < 2 ? 'added-dir' : join('added-dir', 'deeper'), `new-${i}.txt`);
    await writeFile(join(root, path), contentFor(random, 10 + i * 1000));
    result.added.push(path);
  }
  await writeFile(join(root, 'dir-00', 'added-empty'), '');
  result.added.push('dir-00/added-empty');
  if (entries.get('dir-01/relative-link')) {
    await rm(join(root, 'dir-01', 'relative-link'));
    await symlink('../dir-00', join(root, 'dir-01', 'relative-link'));
    result.changed.push('dir-01/relative-link');
  }
  return result;
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface TreeEntry {
  path: string;
  type: EntryType;
  mode: number;
  mtimeS: number;
  size: number;
  uid: number;
  gid: number;
  ino: number;
  linkTarget?: string;
}

function typeOf(stats: Stats): EntryType {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  return 'other';
}

/** Every entry under root (root itself as ""), keyed by relative path with "/" separators. */
export async function walk(root: string): Promise<Map<string, TreeEntry>> {
  const entries = new Map<string, TreeEntry>();
  const visit = async (full: string): Promise<void> => {
    const stats = await lstat(full);
    const path = relative(root, full).split('\\').join('/');
    const entry: TreeEntry = {
      path,
      type: typeOf(stats),
      mode: stats.mode & 0o7777,
      mtimeS: Math.floor(stats.mtimeMs / 1000),
      size: stats.size,
      uid: stats.uid,
      gid: stats.gid,
      ino: stats.ino,
    };
    if (entry.type === 'symlink') entry.linkTarget = await readlink(full);
    entries.set(path, entry);
    if (entry.type === 'dir') {
      for (const name of (await readdir(full)).sort()) await visit(join(full, name));
    }
  };
  await visit(root);
  return entries;
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export type DifferenceKind = 'missing' | 'extra' | 'type' | 'content' | 'mode' | 'mtime' | 'target' | 'hardlink' | 'owner';

export interface TreeDifference {
  path: string;
  kind: DifferenceKind;
  expected?: string;
  actual?: string;
}

export interface CompareOptions {
  /** uid/gid too. Default: when running as root. */
  owners?: boolean;
  /** Compare the root directory's own mode/mtime/owner. Default true (rsync -a sets them). */
  rootAttributes?: boolean;
  /** Compare symlink mtimes. Default true (rsync -a sets them on Linux). */
  symlinkTimes?: boolean;
  /** Paths to ignore (relative, exact or directory prefix), e.g. a lost+found. */
  ignore?: string[];
}

/** Differences between expected tree `a` and actual tree `b`; empty when identical. */
export async function compareTrees(a: string, b: string, options: CompareOptions = {}): Promise<TreeDifference[]> {
  const owners = options.owners ?? IS_ROOT;
  const ignored = (path: string): boolean => (options.ignore ?? []).some((p) => path === p || path.startsWith(`${p}/`));
  const [left, right] = await Promise.all([walk(a), walk(b)]);
  const diffs: TreeDifference[] = [];
  const hashCache = new Map<string, string>();
  const hashOf = async (root: string, entry: TreeEntry): Promise<string> => {
    const key = `${root}\0${entry.ino}`;
    let digest = hashCache.get(key);
    if (digest === undefined) {
      digest = await hashFile(join(root, entry.path));
      hashCache.set(key, digest);
    }
    return digest;
  };
  const octal = (mode: number): string => `0${mode.toString(8)}`;

  for (const [path, expected] of left) {
    if (ignored(path)) continue;
    const actual = right.get(path);
    if (!actual) {
      diffs.push({ path, kind: 'missing', expected: expected.type });
      continue;
    }
    if (actual.type !== expected.type) {
      diffs.push({ path, kind: 'type', expected: expected.type, actual: actual.type });
      continue;
    }
    const isRoot = path === '';
    const checkAttributes = !isRoot || options.rootAttributes !== false;
    if (expected.type === 'file') {
      if (expected.size !== actual.size) {
        diffs.push({ path, kind: 'content', expected: `${expected.size} bytes`, actual: `${actual.size} bytes` });
      } else {
        const [h1, h2] = await Promise.all([hashOf(a, expected), hashOf(b, actual)]);
        if (h1 !== h2) diffs.push({ path, kind: 'content', expected: h1, actual: h2 });
      }
    }
    if (expected.type === 'symlink' && expected.linkTarget !== actual.linkTarget) {
      diffs.push({ path, kind: 'target', expected: expected.linkTarget, actual: actual.linkTarget });
    }
    // Symlink permission bits are meaningless on Linux.
    if (checkAttributes && expected.type !== 'symlink' && expected.mode !== actual.mode) {
      diffs.push({ path, kind: 'mode', expected: octal(expected.mode), actual: octal(actual.mode) });
    }
    const timesMatter = expected.type !== 'symlink' || options.symlinkTimes !== false;
    if (checkAttributes && timesMatter && expected.mtimeS !== actual.mtimeS) {
      diffs.push({ path, kind: 'mtime', expected: new Date(expected.mtimeS * 1000).toISOString(), actual: new Date(actual.mtimeS * 1000).toISOString() });
    }
    if (checkAttributes && owners && (expected.uid !== actual.uid || expected.gid !== actual.gid)) {
      diffs.push({ path, kind: 'owner', expected: `${expected.uid}:${expected.gid}`, actual: `${actual.uid}:${actual.gid}` });
    }
  }
  for (const [path, actual] of right) {
    if (!ignored(path) && !left.has(path)) diffs.push({ path, kind: 'extra', actual: actual.type });
  }
  diffs.push(...compareHardLinks(left, right, ignored));
  return diffs;
}

/** Each file's hard-link group (other paths sharing its inode) must be the same on both sides. */
function compareHardLinks(left: Map<string, TreeEntry>, right: Map<string, TreeEntry>, ignored: (p: string) => boolean): TreeDifference[] {
  const groups = (entries: Map<string, TreeEntry>): Map<string, string> => {
    const byInode = new Map<number, string[]>();
    for (const entry of entries.values()) {
      if (entry.type !== 'file' || ignored(entry.path)) continue;
      byInode.set(entry.ino, [...(byInode.get(entry.ino) ?? []), entry.path]);
    }
    const groupOf = new Map<string, string>();
    for (const paths of byInode.values()) {
      const key = paths.sort().join(' = ');
      for (const path of paths) groupOf.set(path, key);
    }
    return groupOf;
  };
  const leftGroups = groups(left);
  const rightGroups = groups(right);
  const diffs: TreeDifference[] = [];
  const reported = new Set<string>();
  for (const [path, expected] of leftGroups) {
    const actual = rightGroups.get(path);
    if (actual === undefined || actual === expected || reported.has(expected)) continue;
    reported.add(expected);
    diffs.push({ path, kind: 'hardlink', expected, actual });
  }
  return diffs;
}

export function formatDifferences(diffs: TreeDifference[], limit = 20): string {
  const lines = diffs
    .slice(0, limit)
    .map(
      (d) =>
        `${d.kind} ${JSON.stringify(d.path)}${d.expected !== undefined || d.actual !== undefined ? `: expected ${d.expected ?? '-'}, got ${d.actual ?? '-'}` : ''}`,
    );
  if (diffs.length > limit) lines.push(`... and ${diffs.length - limit} more`);
  return lines.join('\n');
}
