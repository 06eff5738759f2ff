// Lost connections: a connection cut mid-copy is retried with backoff and the retry skips what had
// arrived; a client killed mid-copy and run again completes without sending everything again.
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MiB, createBlockRig, hashPrefix, writeImage } from './support/block-rig.js';

const BLOCKS = 192;
const SIZE = BLOCKS * MiB;

function emptyTarget(path: string): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, SIZE);
  closeSync(fd);
}

t.test('a connection cut mid-copy is retried and the copy ends equal', async (t) => {
  const rig = await createBlockRig();
  t.teardown(() => rig.cleanup());
  const source = join(rig.dir, 'source.img');
  const target = join(rig.dir, 'target.img');
  writeImage(source, BLOCKS);
  emptyTarget(target);
  const server = await rig.startServer(target);
  const relay = await rig.relay(server.port);
  let cut = false;
  relay.onUp = (total) => {
    if (!cut && total > SIZE / 2) {
      cut = true;
      relay.cutAll();
    }
  };
  const client = rig.startClient(rig.clientConfig(relay.port, source, { verify: true }));
  const done = await client.done;
  t.ok(cut, 'the connection was cut mid-copy');
  t.equal(done.exitCode, 0, `the copy still exits 0 (${done.result?.message})`);
  t.equal(done.result?.verified, true);
  t.ok((done.result?.attempts ?? 0) >= 2, `it took another attempt (${done.result?.attempts})`);
  const attempt = client.events.find((event) => event.type === 'attempt');
  t.ok(
    attempt?.type === 'attempt' && attempt.retryInMs !== null && /connection lost/.test(attempt.reason),
    `the attempt event says a retry follows (${JSON.stringify(attempt)})`,
  );
  t.equal(hashPrefix(target, SIZE), hashPrefix(source, SIZE), 'the target is the source');
  t.ok(relay.up < SIZE * 1.25, `the retry skipped what had arrived (${relay.up} bytes up in all for ${SIZE})`);
  const progress = client.events.filter((event) => event.type === 'progress');
  t.ok(
    progress.some((event) => event.type === 'progress' && event.attempt === 2),
    'progress carries the attempt',
  );
  let previous = 0;
  t.ok(
    progress.every((event) => {
      const ok = event.type === 'progress' && event.percent >= previous;
      previous = event.type === 'progress' ? event.percent : previous;
      return ok;
    }),
    'percent never goes backwards across the retry',
  );
  await server.stop();
});

t.test('a client killed mid-copy, run again, completes without sending everything again', async (t) => {
  const rig = await createBlockRig();
  t.teardown(() => rig.cleanup());
  const source = join(rig.dir, 'source.img');
  const target = join(rig.dir, 'target.img');
  writeImage(source, BLOCKS);
  emptyTarget(target);
  const server = await rig.startServer(target);
  const relay = await rig.relay(server.port);
  const first = rig.startClient(rig.clientConfig(relay.port, source));
  relay.onUp = (total) => {
    if (total > SIZE * 0.6 && first.child.exitCode === null) first.child.kill('SIGKILL');
  };
  const firstDone = await first.done;
  t.not(firstDone.exitCode, 0, 'the first run was killed');
  t.equal(firstDone.result, undefined, 'it never reported a result');
  relay.onUp = undefined;
  const upBefore = relay.up;
  const second = await rig.startClient(rig.clientConfig(relay.port, source, { verify: true })).done;
  t.equal(second.exitCode, 0, 'the re-run exits 0');
  t.equal(second.result?.verified, true);
  t.equal(hashPrefix(target, SIZE), hashPrefix(source, SIZE), 'the target is the source');
  const resent = relay.up - upBefore;
  t.ok(resent < SIZE * 0.6, `the re-run sent only what had not arrived (${resent} bytes of ${SIZE})`);
  t.ok((second.result?.bytes ?? SIZE) < SIZE * 0.6, `its bytes say so too (${second.result?.bytes})`);
  await server.stop();
});
