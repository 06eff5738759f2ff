// The data path end to end: real rsync, real TLS, a large varied tree, then an incremental re-sync.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { compareTrees, formatDifferences, generateTree, mutateTree } from './support/tree.js';
import { createRig } from './support/agents.js';

t.test('a large varied tree arrives identical, then a re-sync after changes leaves it equal', async (t) => {
  const rig = await createRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-copy-'));
  t.teardown(() => {
    rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  const tree = await generateTree(source, { files: 1200, bigFileBytes: 200 * 1024 * 1024 });
  t.ok(tree.hardLinkGroups.length > 0 && tree.symlinks > 0, 'the tree has hard links and symlinks');

  const server = await rig.startServer(destination);
  const first = rig.startClient(rig.clientConfig({ port: server.port, destination }, source, { verify: true }));
  const firstDone = await first.done;
  t.equal(firstDone.exitCode, 0, `first copy exits 0 (${first.stderr.slice(-3).join(' | ')})`);
  t.equal(firstDone.result?.status, 'Succeeded');
  t.equal(firstDone.result?.verified, true, 'the checksum verify pass agrees');
  t.same(formatDifferences(await compareTrees(source, destination)), '', 'trees are identical after the first copy');

  const progress = first.events.filter((event) => event.type === 'progress');
  t.ok(progress.length >= 2, 'progress events were emitted');
  const last = progress[progress.length - 1];
  t.equal(last?.type === 'progress' && last.percent, 100, 'progress reaches 100');
  t.equal(last?.type === 'progress' && last.totalBytes, tree.bytes, 'totalBytes is the size of the source (hard links once)');

  const mutation = await mutateTree(source);
  t.ok(mutation.added.length + mutation.changed.length + mutation.deleted.length > 0, 'the source changed');
  const second = rig.startClient(rig.clientConfig({ port: server.port, destination }, source));
  const secondDone = await second.done;
  t.equal(secondDone.exitCode, 0, 'the re-sync exits 0');
  t.same(formatDifferences(await compareTrees(source, destination)), '', 'trees are identical after the re-sync');
  t.ok((secondDone.result?.bytes ?? Infinity) < tree.bytes / 4, `the re-sync sent only changes (${secondDone.result?.bytes} of ${tree.bytes} bytes)`);
  await server.stop();
});
