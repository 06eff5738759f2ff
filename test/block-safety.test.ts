// What the block server refuses and what verify catches: a certificate for another PVC, a
// destination smaller than the source, and a destination block corrupted after the copy.
import { closeSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MiB, OTHER_IDENTITY, createBlockRig, hashPrefix, writeImage } from './support/block-rig.js';

const BLOCKS = 32;
const SIZE = BLOCKS * MiB;

t.test('a client certificate for another PVC is refused and nothing is written', async (t) => {
  const rig = await createBlockRig();
  t.teardown(() => rig.cleanup());
  const source = join(rig.dir, 'source.img');
  const target = join(rig.dir, 'target.img');
  writeImage(source, BLOCKS, () => false, 1);
  writeImage(target, BLOCKS, () => false, 2);
  const before = hashPrefix(target, SIZE);
  const server = await rig.startServer(target);
  const client = rig.startClient(rig.clientConfig(server.port, source, { identity: OTHER_IDENTITY }));
  const done = await client.done;
  t.equal(done.exitCode, 1, 'the client exits 1');
  t.equal(done.result?.status, 'Failed');
  t.equal(done.result?.attempts, 1, 'a refusal is not retried');
  t.match(done.result?.message, /not for target "disk"/, `the message says why (${done.result?.message})`);
  t.equal(await server.metric('dvm_block_refused_total', 'reason="target-not-allowed"'), 1, 'the server counts the refusal');
  t.equal(await server.metric('dvm_block_written_bytes_total'), 0, 'no byte was written');
  t.equal(hashPrefix(target, SIZE), before, 'the target is untouched');
  await server.stop();
});

t.test('a destination smaller than the source is refused, never truncated or grown', async (t) => {
  const rig = await createBlockRig();
  t.teardown(() => rig.cleanup());
  const source = join(rig.dir, 'source.img');
  const target = join(rig.dir, 'target.img');
  writeImage(source, BLOCKS, () => false, 1);
  writeImage(target, BLOCKS - 1, () => false, 2);
  const before = hashPrefix(target, SIZE);
  const server = await rig.startServer(target);
  const client = rig.startClient(rig.clientConfig(server.port, source));
  const done = await client.done;
  t.equal(done.exitCode, 1, 'the client exits 1');
  t.equal(done.result?.attempts, 1, 'not retried');
  t.match(done.result?.message, /target-too-small.*less than the source's/, `the message says why (${done.result?.message})`);
  t.equal(statSync(target).size, SIZE - MiB, 'the target keeps its size');
  t.equal(hashPrefix(target, SIZE), before, 'and its content');
  // A larger destination is fine: the source's bytes arrive, the tail is left as it was.
  const bigger = join(rig.dir, 'bigger.img');
  writeImage(bigger, BLOCKS + 2, () => false, 3);
  const tail = (): Buffer => {
    const fd = openSync(bigger, 'r');
    const buffer = Buffer.alloc(2 * MiB);
    readSync(fd, buffer, 0, buffer.length, SIZE);
    closeSync(fd);
    return buffer;
  };
  const tailBefore = tail();
  const server2 = await rig.startServer(bigger);
  const ok = await rig.startClient(rig.clientConfig(server2.port, source, { verify: true })).done;
  t.equal(ok.exitCode, 0, 'a larger destination takes the copy');
  t.equal(ok.result?.verified, true);
  t.equal(hashPrefix(bigger, SIZE), hashPrefix(source, SIZE), 'the first source-size bytes are the source');
  t.ok(tail().equals(tailBefore), 'the rest of the larger destination is untouched');
  await server.stop();
  await server2.stop();
});

t.test('verify finds a destination block corrupted after the copy', async (t) => {
  const rig = await createBlockRig();
  t.teardown(() => rig.cleanup());
  const source = join(rig.dir, 'source.img');
  const target = join(rig.dir, 'target.img');
  writeImage(source, BLOCKS, (index) => index % 2 === 1, 1);
  const fd = openSync(target, 'w');
  ftruncateSync(fd, SIZE);
  closeSync(fd);
  const server = await rig.startServer(target);
  const relay = await rig.relay(server.port);
  // The copy is connection 1, the verify connection 2: corrupt the destination between the two,
  // one byte in a data block and one in a block that is zero on both sides.
  relay.onConnection = (count) => {
    if (count !== 2) return;
    const out = openSync(target, 'r+');
    writeSync(out, Buffer.from([0x5a]), 0, 1, 6 * MiB + 12345);
    writeSync(out, Buffer.from([0x01]), 0, 1, 9 * MiB + 7);
    closeSync(out);
  };
  const client = rig.startClient(rig.clientConfig(relay.port, source, { verify: true }));
  const done = await client.done;
  t.equal(relay.connections, 2, 'one copy connection, one verify connection');
  t.not(done.exitCode, 0, 'the client does not exit 0');
  t.equal(done.result?.status, 'Failed');
  t.equal(done.result?.verified, false, 'verified is false');
  t.match(done.result?.message, /differ.*first differing block 6 at offset 6291456/, `the message names the block (${done.result?.message})`);

  // A verify of equal devices passes (same comparison, nothing corrupted this time).
  relay.onConnection = undefined;
  const again = await rig.startClient(rig.clientConfig(relay.port, source, { verify: true })).done;
  t.equal(again.result?.verified, true, 'after a re-sync repaired it the verify passes');
  t.equal(hashPrefix(target, SIZE), hashPrefix(source, SIZE));
  await server.stop();
});
