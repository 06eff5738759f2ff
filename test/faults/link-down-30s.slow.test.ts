// Issue 5, scenario 1 (30 s link loss). Slow (~45 s): runs only with DVM_SLOW=1, e.g.
// `DVM_SLOW=1 npx tap test/faults/*.slow.test.ts`. The 5 s link loss runs in interruptions.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createFaultRig } from './support/fault-rig.js';
import { waitFor } from './support/processes.js';
import { expectCompleteCopy, expectNoSecrets, generateLargeSource } from './support/scenario.js';

const SLOW = process.env.DVM_SLOW === '1';

t.test('the link goes down for 30 s in the middle of a large copy through the proxy', { skip: SLOW ? false : 'slow: set DVM_SLOW=1' }, async (t) => {
  const rig = await createFaultRig({ proxy: true });
  const work = mkdtempSync(join(tmpdir(), 'dvm-linkdown-'));
  t.teardown(async () => {
    await rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  const tree = await generateLargeSource(source, 32 * 1024 * 1024);
  await rig.startServer(destination);
  const client = rig.startClient(rig.clientConfig(source, destination, {}, { rsync_opt_bwlimit: 6000 }));
  await waitFor(() => client.bytes() >= tree.bytes * 0.5 || client.child.exitCode !== null, 120_000, 'the copy to pass 50%');
  t.equal(client.child.exitCode, null, 'the copy was still running when the link went down');
  await rig.topo.linkDown(rig.topo.links.srcProxy);
  await sleep(30_000);
  await rig.topo.linkUp(rig.topo.links.srcProxy);
  const finished = await client.done;
  await expectCompleteCopy(t, '30 s link loss', client, finished, source, destination);
  t.comment(
    `attempts: ${finished.result?.attempts}; ${client.events
      .filter((e) => e.type === 'attempt')
      .map((e) => e.type === 'attempt' && e.reason)
      .join(' | ')}`,
  );
  expectNoSecrets(t, rig);
});
