// Exit-code classes in action: a dropped connection is retried and resumed to an identical tree;
// a partial transfer (23) ends Failed; a full destination (11) fails fast without retries.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ProgressEvent } from '../contract/events.js';
import { createRig } from './support/agents.js';
import { compareTrees, formatDifferences, generateTree, writeBigFile } from './support/tree.js';

const isRoot = process.getuid?.() === 0;

t.test('a connection killed mid-transfer is retried and ends identical', async (t) => {
  const rig = await createRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-retry-'));
  t.teardown(() => {
    rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  await generateTree(source, { files: 100, bigFileBytes: 64 * 1024 * 1024 });
  const server = await rig.startServer(destination);
  const base = rig.clientConfig({ port: server.port, destination }, source);
  const client = rig.startClient({ ...base, progressIntervalMs: 200, settings: { ...base.settings, rsync_opt_bwlimit: 16_384 } });

  // Once bytes are moving, kill the destination's rsync: the tunnel drops under the client.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const moving = client.events.some((event) => event.type === 'progress' && event.bytes > 8 * 1024 * 1024);
      if (!moving) return;
      clearInterval(timer);
      execFileSync('pkill', ['-KILL', '-f', `rsync --daemon --config=${rig.dir}`]);
      resolve();
    }, 100);
  });
  const { exitCode, result } = await client.done;
  t.equal(exitCode, 0, 'ends successfully');
  const attempts = client.events.filter((event) => event.type === 'attempt');
  t.ok(attempts.length >= 1, 'an attempt event reported the drop');
  t.ok(
    attempts.every((event) => event.type === 'attempt' && event.retryInMs !== null),
    'each failed attempt was retried',
  );
  t.equal(result?.attempts, attempts.length + 1);
  const progress = client.events.filter((event): event is ProgressEvent => event.type === 'progress');
  for (let i = 1; i < progress.length; i += 1) {
    const [before, after] = [progress[i - 1]!, progress[i]!];
    if (after.bytes < before.bytes || after.percent < before.percent) t.fail(`progress went backwards at event ${i}`);
  }
  t.ok(
    progress.every((event) => event.bytes <= event.totalBytes),
    'bytes never exceed the total',
  );
  t.same(formatDifferences(await compareTrees(source, destination)), '', 'identical after the retry');
});

t.test('a partial transfer (23) ends as Failed, not retried', { skip: !isRoot && 'needs root to make a read-only bind mount' }, async (t) => {
  const rig = await createRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-partial-'));
  const locked = join(work, 'destination', 'locked');
  t.teardown(() => {
    try {
      execFileSync('umount', [locked]);
    } catch {
      /* not mounted */
    }
    rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  mkdirSync(join(source, 'locked'), { recursive: true });
  writeFileSync(join(source, 'fine.txt'), 'this one arrives\n');
  writeFileSync(join(source, 'locked', 'blocked.txt'), 'this one cannot be written\n');
  mkdirSync(locked, { recursive: true });
  execFileSync('mount', ['--bind', locked, locked]);
  execFileSync('mount', ['-o', 'remount,bind,ro', locked]);
  const server = await rig.startServer(destination);
  const client = rig.startClient(rig.clientConfig({ port: server.port, destination }, source));
  const { exitCode, result } = await client.done;
  t.equal(exitCode, 23);
  t.equal(result?.status, 'Failed');
  t.equal(result?.attempts, 1, 'exit 23 is not retried');
  t.match(result?.message ?? '', /partial transfer/);
});

t.test('a full destination (11) fails fast and says so', { skip: !isRoot && 'needs root to mount a small tmpfs' }, async (t) => {
  const rig = await createRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-enospc-'));
  const destination = join(work, 'destination');
  mkdirSync(destination, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', destination]);
  t.teardown(() => {
    try {
      execFileSync('umount', [destination]);
    } catch {
      /* not mounted */
    }
    rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  mkdirSync(source);
  await writeBigFile(join(source, 'too-big.bin'), 16 * 1024 * 1024);
  const server = await rig.startServer(destination);
  const client = rig.startClient(rig.clientConfig({ port: server.port, destination }, source));
  const { exitCode, result } = await client.done;
  t.not(exitCode, 0);
  t.equal(result?.status, 'Failed');
  t.equal(result?.attempts, 1, 'no retry storm');
  t.match(result?.message ?? '', /destination is full/);
});
