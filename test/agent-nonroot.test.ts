// The destination agent without root (the default pod security): symlinks, absolute ones included,
// still arrive unchanged, and everything else but ownership is kept.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createRig } from './support/agents.js';
import { compareTrees, formatDifferences, generateTree } from './support/tree.js';

const NOBODY = { uid: 65534, gid: 65534 };

t.test('a non-root server keeps symlinks exact', { skip: process.getuid?.() !== 0 && 'needs root to start a process as another user' }, async (t) => {
  const rig = await createRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-nonroot-'));
  t.teardown(() => { rig.cleanup(); rmSync(work, { recursive: true, force: true }); });
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
