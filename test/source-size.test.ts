// The source walk for the progress totals (agent/progress/source-size.ts): the native walk and the
// JavaScript one count the same things; the native one leaves the event loop free, runs at
// SCHED_IDLE on a thread of its own, and neither fails when the live source loses files under it.
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { measureSource, walkImplementation } from '../agent/progress/source-size.js';

const work = mkdtempSync(join(tmpdir(), 'dvm-walk-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const IMPLEMENTATIONS = ['native', 'js'] as const;

t.test('the native walk is the one in use (the addon is built)', async (t) => {
  t.same(walkImplementation(), { implementation: 'native' });
});

t.test('both walks count the same: files, directories, links, a fifo; a hard link once; links not followed', async (t) => {
  const root = join(work, 'mixed');
  mkdirSync(join(root, 'a/b/c'), { recursive: true });
  writeFileSync(join(root, 'one'), Buffer.alloc(1000));
  writeFileSync(join(root, 'a/two'), Buffer.alloc(2000));
  writeFileSync(join(root, 'a/b/c/three'), Buffer.alloc(3000));
  linkSync(join(root, 'a/two'), join(root, 'a/b/two-again'));
  writeFileSync(join(root, 'empty'), '');
  const outside = join(work, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'big'), Buffer.alloc(50_000));
  symlinkSync(outside, join(root, 'a/to-outside'));
  symlinkSync(join(outside, 'big'), join(root, 'to-big'));
  await new Promise<void>((resolve, reject) =>
    spawn('mkfifo', [join(root, 'a/fifo')], { stdio: 'inherit' }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo ${code}`)))),
  );
  // root, one, empty, to-big, a, a/two, a/to-outside, a/fifo, a/b, a/b/two-again, a/b/c, a/b/c/three
  const expected = { bytes: 6000, entries: 12 };
  for (const implementation of IMPLEMENTATIONS) t.same(await measureSource(root, { implementation }), expected, implementation);
  const viaLink = join(work, 'link-to-mixed');
  symlinkSync(root, viaLink);
  for (const implementation of IMPLEMENTATIONS)
    t.same(await measureSource(viaLink, { implementation }), expected, `${implementation}: a root that is a link is followed`);
});

t.test('a tree deeper than any recursion would like', async (t) => {
  let dir = join(work, 'deep');
  const root = dir;
  for (let depth = 0; depth < 400 && dir.length < 3800; depth++) dir = join(dir, 'd');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'leaf'), 'x');
  const depth = (dir.length - root.length) / 2;
  for (const implementation of IMPLEMENTATIONS) {
    t.same(await measureSource(root, { implementation }), { bytes: 1, entries: 1 + depth + 1 }, `${implementation}: ${depth} levels`);
  }
});

t.test('errors name the path and say what failed', async (t) => {
  const file = join(work, 'not-a-directory');
  writeFileSync(file, 'x');
  for (const implementation of IMPLEMENTATIONS) {
    await t.rejects(measureSource(join(work, 'missing'), { implementation }), { code: 'ENOENT', message: /missing/ }, `${implementation}: a missing root`);
    await t.rejects(measureSource(file, { implementation }), { code: 'ENOTDIR', message: /not-a-directory/ }, `${implementation}: a root that is a file`);
  }
});

function makeFlatTree(root: string, files: number): void {
  mkdirSync(root, { recursive: true });
  for (let dir = 0; dir < files / 100; dir++) {
    mkdirSync(join(root, `d${dir}`));
    for (let i = 0; i < 100; i++) writeFileSync(join(root, `d${dir}`, `f${i}`), 'x');
  }
}

t.test('the native walk leaves the event loop free, on a thread of its own at SCHED_IDLE', async (t) => {
  const root = join(work, 'wide');
  makeFlatTree(root, 60_000);
  for (const implementation of IMPLEMENTATIONS) {
    let loopTurned = false;
    setImmediate(() => {
      loopTurned = true;
    });
    let walkerPolicy: number | null = null;
    const watcher = setInterval(() => {
      walkerPolicy ??= policyOfThread('dvm-walk');
    }, 1);
    const size = await measureSource(root, { implementation });
    clearInterval(watcher);
    t.equal(size.entries, 1 + 600 + 60_000, `${implementation}: counted`);
    if (implementation === 'native') {
      t.ok(loopTurned, 'native: the event loop turned while the walk ran');
      t.equal(walkerPolicy, SCHED_IDLE, 'native: the dvm-walk thread ran at SCHED_IDLE');
    } else {
      t.notOk(loopTurned, 'js: the walk held the event loop (which is why the native one exists)');
    }
  }
});

const SCHED_IDLE = 5;

/** The scheduling policy (field 41 of /proc/self/task/TID/stat) of our thread with this name. */
function policyOfThread(name: string): number | null {
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) continue;
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[41 - 3]);
    } catch {
      // the thread ended while we looked
    }
  }
  return null;
}

t.test('files deleted while the walk runs are skipped, not a failure', async (t) => {
  for (const implementation of IMPLEMENTATIONS) {
    const root = join(work, `live-${implementation}`);
    makeFlatTree(root, 40_000);
    // Another process deletes the tree from the far end while we walk it from the near one.
    const deleter = spawn('sh', ['-c', `cd '${root}' && for d in $(ls -r); do rm -rf "$d"; done`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => deleter.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const failures: string[] = [];
    for (let round = 0; round < 20; round++) {
      try {
        await measureSource(root, { implementation });
      } catch (error) {
        failures.push(`${(error as NodeJS.ErrnoException).code} ${(error as Error).message}`);
      }
    }
    await exited;
    const outcome = failures.length === 0 ? 'no walk failed' : failures[0]!;
    t.same(failures, [], `${implementation}: ${outcome}`);
    t.same(await measureSource(root, { implementation }), { bytes: 0, entries: 1 }, `${implementation}: the emptied root`);
  }
});
