// The destination agent without root (the default pod security): symlinks, absolute ones included,
// still arrive unchanged, and everything else but ownership is kept.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createRig } from './support/agents.js';
import { compareTrees, formatDifferences, generateTree } from './support/tree.js';

const NOBODY = { uid: 65534, gid: 65534 };

t.test('a non-root server keeps symlinks exact', { skip: process.getuid?.() !== 0 && 'needs root to start a process as another user' }, async (t) => {
  const rig = await createRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-nonroot-'));
  t.teardown(() => {
    rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  chmodSync(work, 0o755);
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  await generateTree(source, { files: 80, owners: false });
  mkdirSync(destination);
  chownSync(destination, NOBODY.uid, NOBODY.gid);
  // The server's config and key must be readable by the user it runs as.
  chownSync(rig.dir, NOBODY.uid, NOBODY.gid);
  for (const name of readdirSync(rig.dir)) chownSync(join(rig.dir, name), NOBODY.uid, NOBODY.gid);

  const server = await rig.startServer(destination, {}, NOBODY);
  const client = rig.startClient(rig.clientConfig({ port: server.port, destination, runAsUid: NOBODY.uid }, source));
  const { exitCode } = await client.done;
  t.equal(exitCode, 0, `copied (${client.stderr.slice(-2).join(' | ')})`);
  t.same(formatDifferences(await compareTrees(source, destination, { owners: false })), '', 'identical but for owners');
});

t.test(
  'a non-root server leaves a volume root it does not own alone, and the copy succeeds',
  { skip: process.getuid?.() !== 0 && 'needs root to start a process as another user' },
  async (t) => {
    // What a fresh PVC looks like to a pod with fsGroup: owned by root, group fsGroup, mode 2775.
    const rig = await createRig();
    const work = mkdtempSync(join(tmpdir(), 'dvm-nonroot-root-'));
    t.teardown(() => {
      rig.cleanup();
      rmSync(work, { recursive: true, force: true });
    });
    chmodSync(work, 0o755);
    const source = join(work, 'source');
    const destination = join(work, 'destination');
    await generateTree(source, { files: 40, owners: false });
    chmodSync(source, 0o750);
    utimesSync(source, new Date('2021-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z'));
    mkdirSync(destination);
    chownSync(destination, 0, NOBODY.gid);
    chmodSync(destination, 0o2775);
    chownSync(rig.dir, NOBODY.uid, NOBODY.gid);
    for (const name of readdirSync(rig.dir)) chownSync(join(rig.dir, name), NOBODY.uid, NOBODY.gid);

    const server = await rig.startServer(destination, {}, NOBODY);
    const client = rig.startClient(rig.clientConfig({ port: server.port, destination }, source));
    const { exitCode, result } = await client.done;
    t.equal(exitCode, 0, `copied (${client.stderr.slice(-2).join(' | ')})`);
    t.equal(result?.status, 'Succeeded');
    t.match(result?.message, /root directory keeps its own owner, group, mode and times/, 'says what was left alone');
    t.same(formatDifferences(await compareTrees(source, destination, { owners: false, rootAttributes: false })), '', 'everything below the root identical');
    const root = statSync(destination);
    t.equal(root.uid, 0, "the root is still root's");
    t.equal(root.mode & 0o7777, 0o2775, 'with its own mode');
  },
);
