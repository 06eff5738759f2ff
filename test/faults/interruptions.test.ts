// Issue 5, scenarios 1 (5 s link loss) and 3, through tinyproxy with BasicAuth as the only way from
// the source host to the destination host: each interruption in the middle of a large copy ends
// complete, progress never goes backwards, attempts are counted, and the big file's partial copy
// is resumed instead of sent again from zero (measured on the source host's link counter).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { GeneratedTree } from '../support/tree.js';
import { createFaultRig, type FaultRig, type NsClient, type NsServer } from './support/fault-rig.js';
import { waitFor } from './support/processes.js';
import { expectCompleteCopy, expectNoSecrets, generateLargeSource } from './support/scenario.js';

/** KiB/s: the ~33 MiB copy takes ~5 s, long enough to interrupt in the middle. */
const BWLIMIT = 6000;
const BIG_FILE_BYTES = 32 * 1024 * 1024;
/** Re-sending the big file from zero after an interruption past half-way would cost >= 1.5x. */
const RESUME_LIMIT = 1.35;

interface FaultContext {
  rig: FaultRig;
  server: NsServer;
  client: NsClient;
  /** Starts another client with the same config (for the client-restart scenario). */
  restartClient(): NsClient;
}

t.test('interruptions mid-copy through an authenticating proxy', async (t) => {
  const rig = await createFaultRig({ proxy: true });
  const work = mkdtempSync(join(tmpdir(), 'dvm-interrupt-'));
  t.teardown(async () => {
    await rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  const tree: GeneratedTree = await generateLargeSource(source, BIG_FILE_BYTES);
  let run = 0;

  /** One scenario: fresh destination and server, a bandwidth-limited copy, the fault at ~55%. */
  const only = process.env.DVM_FAULTS_ONLY ? new RegExp(process.env.DVM_FAULTS_ONLY, 'i') : null;
  /** resumable: rsync can keep the partial file (its receiver saw the connection end, or a signal);
   * after a SIGKILL of the receiver it cannot, and the file is sent once more (never more). */
  const scenario = async (name: string, fault: (ctx: FaultContext) => Promise<NsClient | void>, resumable = true): Promise<void> => {
    await t.test(name, { skip: only && !only.test(name) ? 'not in DVM_FAULTS_ONLY' : false }, async (t) => {
      const destination = join(work, `destination-${++run}`);
      const server = await rig.startServer(destination);
      t.teardown(() => server.kill());
      const config = rig.clientConfig(source, destination, {}, { rsync_opt_bwlimit: BWLIMIT });
      const connectsBefore = rig.proxy?.connects().length ?? 0;
      const txBefore = await rig.srcTxBytes();
      const client = rig.startClient(config);
      await waitFor(() => client.bytes() >= tree.bytes * 0.55 || client.child.exitCode !== null, 120_000, 'the copy to pass 55%');
      t.equal(client.child.exitCode, null, `the copy was still running at the fault (bytes ${client.bytes()} of ${tree.bytes})`);
      const finalClient = (await fault({ rig, server, client, restartClient: () => rig.startClient(config) })) ?? client;
      const finished = await finalClient.done;
      if (finished.exitCode !== 0) {
        t.comment(
          `server log tail:\n${server.logLines
            .slice(-12)
            .map((line) => JSON.stringify(line))
            .join('\n')}`,
        );
        t.comment(`client stderr tail:\n${finalClient.stderr.slice(-12).join('\n')}`);
      }
      await expectCompleteCopy(t, name, finalClient, finished, source, destination);
      const sent = (await rig.srcTxBytes()) - txBefore;
      const wire = `${(sent / 2 ** 20).toFixed(1)} MiB on the wire for ${(tree.bytes / 2 ** 20).toFixed(1)} MiB of data`;
      if (resumable) t.ok(sent < tree.bytes * RESUME_LIMIT, `the partial file was resumed, not re-sent: ${wire}`);
      else t.ok(sent < tree.bytes * 2.1, `the interrupted file was sent at most once more: ${wire}`);
      t.ok((rig.proxy?.connects().length ?? 0) > connectsBefore, 'the tunnel went through the proxy');
    });
  };

  await scenario('the link goes down for 5 s', async ({ rig }) => {
    await rig.topo.linkDown(rig.topo.links.srcProxy);
    await sleep(5_000);
    await rig.topo.linkUp(rig.topo.links.srcProxy);
  });

  await scenario('the proxy is restarted', async ({ rig, client }) => {
    await rig.proxy!.restart();
    await waitFor(() => client.events.some((e) => e.type === 'attempt') || client.child.exitCode !== null, 60_000, 'an attempt event');
    const attempt = client.events.find((e) => e.type === 'attempt');
    t.ok(
      attempt && attempt.type === 'attempt' && attempt.retryInMs !== null,
      `the broken attempt is retried (${attempt?.type === 'attempt' ? attempt.reason : 'none'})`,
    );
  });

  await scenario('the server agent is stopped (SIGTERM) and started again', async ({ server, client }) => {
    await server.kill('SIGTERM');
    await waitFor(() => client.events.some((e) => e.type === 'attempt') || client.child.exitCode !== null, 60_000, 'an attempt event');
    await sleep(1_000);
    await server.start();
  });

  await scenario(
    'the server agent is killed (SIGKILL, with its rsync) and started again',
    async ({ server, client }) => {
      await server.kill('SIGKILL');
      await waitFor(() => client.events.some((e) => e.type === 'attempt') || client.child.exitCode !== null, 60_000, 'an attempt event');
      await server.start();
    },
    false,
  );

  await scenario('the client agent is killed (with its rsync) and started again', async ({ client, restartClient }) => {
    client.kill('SIGKILL');
    await client.done;
    return restartClient();
  });

  expectNoSecrets(t, rig);
});
