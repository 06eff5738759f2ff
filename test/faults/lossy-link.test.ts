// Issue 5, scenario 2: 5 % packet loss and 200 ms delay (each way) for the whole copy, through the
// proxy, with a verify pass over the same link. tc netem when the kernel has it, else the userspace
// lossy link (test/support/impair-link.py, needs python3). ~25 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { netemAvailable, python3Available } from '../support/netns.js';
import { generateTree } from '../support/tree.js';
import { createFaultRig } from './support/fault-rig.js';
import { expectCompleteCopy, expectNoSecrets } from './support/scenario.js';

const impairmentSkip = !netemAvailable() && !python3Available() ? 'needs tc netem (sch_netem) or python3 for the userspace lossy link' : false;

t.test('5 % packet loss and 200 ms delay for the whole copy', { skip: impairmentSkip }, async (t) => {
  // The kernel's netem when it has one; else the userspace link does the same to every packet.
  const rig = await createFaultRig({ proxy: true, srcLink: netemAvailable() ? 'veth' : 'userspace' });
  const work = mkdtempSync(join(tmpdir(), 'dvm-lossy-'));
  t.teardown(async () => {
    await rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  t.comment(`impairment by ${rig.topo.srcLink === 'veth' ? 'tc netem' : 'test/support/impair-link.py'}`);
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  // ~1 MiB: at 5 % loss and 400 ms round trips TCP moves a few tens of KiB/s.
  await generateTree(source, { files: 300, maxFileBytes: 12 * 1024 });
  await rig.startServer(destination);
  await rig.topo.impair(rig.topo.links.srcProxy, { lossPercent: 5, delayMs: 200 });
  const client = rig.startClient(rig.clientConfig(source, destination, { verify: true }));
  const finished = await client.done;
  await expectCompleteCopy(t, 'lossy, slow link', client, finished, source, destination);
  t.equal(finished.result?.verified, true, 'the checksum verify pass over the same lossy link agrees');
  t.ok(client.progress().length >= 3, `progress kept flowing (${client.progress().length} events)`);
  expectNoSecrets(t, rig);
});
