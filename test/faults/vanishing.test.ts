// Issue 5, scenario 5: files vanish and change at the source during a stage copy. The stage copy
// ends as success with a warning (rsync exit 24); a follow-up cutover copy makes the trees equal.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateTree, writeBigFile } from '../support/tree.js';
import { eventStreamProblems } from './support/checks.js';
import { createFaultRig } from './support/fault-rig.js';
import { waitFor } from './support/processes.js';
import { expectCompleteCopy, expectNoSecrets, tail } from './support/scenario.js';

const MiB = 1024 * 1024;

t.test('source files vanish and change during a stage copy; the cutover copy makes the trees equal', async (t) => {
  const rig = await createFaultRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-vanish-'));
  t.teardown(async () => {
    await rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  await generateTree(source, { files: 200 });
  // rsync sends in name order: the big file first keeps it busy while the later files vanish.
  await writeBigFile(join(source, 'aaa-first-big.img'), 16 * MiB);
  const doomed = join(source, 'zzz-vanishing');
  const changing = join(source, 'zzz-changing');
  mkdirSync(doomed);
  mkdirSync(changing);
  for (let i = 0; i < 20; i++) {
    writeFileSync(join(doomed, `gone-${i}.txt`), `will vanish ${i}\n`);
    writeFileSync(join(changing, `log-${i}.txt`), `line 1 of ${i}\n`);
  }

  const server = await rig.startServer(destination);
  const stage = rig.startClient(rig.clientConfig(source, destination, {}, { rsync_opt_bwlimit: 4000 }));
  await waitFor(() => stage.bytes() > 2 * MiB || stage.child.exitCode !== null, 60_000, 'the stage copy to be under way');
  t.equal(stage.child.exitCode, null, 'the stage copy was still running when the source changed');
  rmSync(doomed, { recursive: true });
  for (let i = 0; i < 20; i++) appendFileSync(join(changing, `log-${i}.txt`), `line 2 of ${i}, written during the copy\n`);
  writeFileSync(join(source, 'zzz-new-during-stage.txt'), 'appeared during the stage copy\n');

  const staged = await stage.done;
  t.equal(staged.exitCode, 0, `the stage copy exits 0 (${tail(stage)})`);
  t.equal(staged.result?.status, 'Succeeded', 'the stage copy is Succeeded');
  t.equal(staged.result?.exitCode, 24, 'with rsync exit 24 (vanished source files)');
  t.match(staged.result?.message ?? '', /warning|vanished/i, `the result carries a warning: ${staged.result?.message}`);
  t.ok(
    rig
      .capturedOutput()
      .split('\n')
      .some((line) => /"level":40/.test(line) && /vanish/i.test(line)),
    'a warning was logged',
  );
  t.same(eventStreamProblems(stage.events), [], 'the stage event stream keeps its promises');
  t.equal(stage.events.filter((event) => event.type === 'attempt').length, 0, 'vanished files are not a failed attempt');

  const cutover = rig.startClient(rig.clientConfig(source, destination));
  await expectCompleteCopy(t, 'cutover copy', cutover, await cutover.done, source, destination);
  t.equal(await server.metric('dvm_server_rsync_spawned_total'), 2, 'one rsync per copy');
  expectNoSecrets(t, rig);
});
