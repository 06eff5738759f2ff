// Issue 5, scenario 4: the destination filesystem fills up (a small tmpfs). The copy fails fast with
// the ENOSPC exit class, a message that says the destination is full, and exactly one attempt.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateTree } from '../support/tree.js';
import { eventStreamProblems } from './support/checks.js';
import { createFaultRig } from './support/fault-rig.js';
import { expectNoSecrets, tail } from './support/scenario.js';

const MiB = 1024 * 1024;

t.test('a full destination fails fast, once, saying the destination is full', async (t) => {
  const rig = await createFaultRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-enospc-'));
  const destination = join(work, 'small-volume');
  mkdirSync(destination);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'dvm-faults-enospc', destination]);
  t.teardown(async () => {
    await rig.cleanup();
    try {
      execFileSync('umount', ['-l', destination]);
    } catch {
      /* not mounted */
    }
    rmSync(work, { recursive: true, force: true });
  });

  const source = join(work, 'source');
  await generateTree(source, { files: 100, bigFileBytes: 24 * MiB });
  const server = await rig.startServer(destination);
  // Retries would be quick here, so a storm would show up as many attempts.
  const client = rig.startClient(rig.clientConfig(source, destination, { retryBaseMs: 100, retryMaxMs: 200 }, { rsync_backoff_limit: 5 }));
  const { exitCode, result } = await client.done;

  t.not(exitCode, 0, `the client exits non-zero (${exitCode})`);
  t.equal(result?.status, 'Failed', 'the result is Failed');
  t.match(result?.message ?? '', /destination is full|No space left on device/i, `the message says the destination is full: ${result?.message}`);
  const attempts = client.events.filter((event) => event.type === 'attempt');
  t.equal(attempts.length, 1, `exactly one attempt event, no retry storm (${tail(client)})`);
  t.equal(attempts[0]?.type === 'attempt' ? attempts[0].retryInMs : 'missing', null, 'the attempt event says no retry follows');
  t.equal(result?.attempts, 1, 'the result counts one attempt');
  t.equal(await server.metric('dvm_server_rsync_spawned_total'), 1, 'the server spawned rsync once');
  t.same(eventStreamProblems(client.events), [], 'the event stream keeps its promises');
  const lastProgress = client.progress().at(-1);
  t.ok((lastProgress?.percent ?? 0) < 100, `progress did not claim completion (${lastProgress?.percent}%)`);
  expectNoSecrets(t, rig);
});
