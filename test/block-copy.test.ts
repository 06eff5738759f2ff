// The block copier end to end with regular files as devices: a full copy arrives equal, zero blocks
// are not sent and the target stays sparse, a re-sync after changing 1% of the blocks sends only
// those, and a block that became zero becomes a hole.
import { ftruncateSync, openSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MiB, allocatedBytes, changeBlock, createBlockRig, hashPrefix, writeImage } from './support/block-rig.js';

const BLOCKS = 256;
const SIZE = BLOCKS * MiB;

function emptyTarget(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
}

t.test('full copy, zero blocks, sparse target, 1% re-sync, a block turned zero', async (t) => {
  const rig = await createBlockRig();
  t.teardown(() => rig.cleanup());
  const source = join(rig.dir, 'source.img');
  const target = join(rig.dir, 'target.img');
  // A quarter of the blocks are zero (holes in the source).
  const zero = (index: number): boolean => index % 4 === 3;
  writeImage(source, BLOCKS, zero);
  emptyTarget(target, SIZE);
  const dataBytes = (BLOCKS - BLOCKS / 4) * MiB;

  const server = await rig.startServer(target);
  const relay = await rig.relay(server.port);
  const first = rig.startClient(rig.clientConfig(relay.port, source, { verify: true }));
  const firstDone = await first.done;
  t.equal(firstDone.exitCode, 0, `the full copy exits 0 (${first.stderr.slice(-3).join(' | ')})`);
  t.equal(firstDone.result?.status, 'Succeeded');
  t.equal(firstDone.result?.verified, true, 'the verify pass finds the devices equal');
  t.equal(hashPrefix(target, SIZE), hashPrefix(source, SIZE), 'the target is byte for byte the source');
  t.equal(firstDone.result?.bytes, dataBytes, 'bytes counts the non-zero blocks only');
  // The wire: the data blocks, plus hashes, framing, TLS and the verify pass's hashes.
  const firstWire = relay.up;
  t.ok(firstWire >= dataBytes && firstWire < dataBytes * 1.02, `zero blocks are not sent (${firstWire} bytes up for ${dataBytes} of data)`);
  t.ok(allocatedBytes(target) <= dataBytes + 4 * MiB, `the target stays sparse (${allocatedBytes(target)} allocated for ${dataBytes} of data)`);

  const progress = first.events.filter((event) => event.type === 'progress');
  const last = progress[progress.length - 1];
  t.ok(progress.length >= 2, 'progress events were emitted');
  t.equal(last?.type === 'progress' && last.totalBytes, SIZE, 'totalBytes is the device size');
  t.equal(last?.type === 'progress' && last.percent, 100, 'progress reaches 100');
  let previous = { bytes: -1, percent: -1 };
  const regressions = progress.filter((event) => {
    if (event.type !== 'progress') return false;
    const bad = event.bytes < previous.bytes || event.percent < previous.percent || event.bytes > event.totalBytes;
    previous = event;
    return bad;
  });
  t.same(regressions, [], 'bytes and percent never go backwards, bytes never past the total');
  t.equal(first.events.filter((event) => event.type === 'result').length, 1, 'one result event');

  // Re-sync: 1% of the blocks change (3 of 256: 1.2%), one data block becomes zero.
  const changed = [5, 100, 201];
  for (const [n, index] of changed.entries()) changeBlock(source, index, 1000 + n);
  const fd = openSync(source, 'r+');
  writeSync(fd, Buffer.alloc(MiB), 0, MiB, 8 * MiB);
  closeSync(fd);
  const allocatedBefore = allocatedBytes(target);
  const upBefore = relay.up;
  const second = rig.startClient(rig.clientConfig(relay.port, source));
  const secondDone = await second.done;
  t.equal(secondDone.exitCode, 0, 'the re-sync exits 0');
  t.equal(hashPrefix(target, SIZE), hashPrefix(source, SIZE), 'the target equals the changed source');
  t.equal(secondDone.result?.bytes, changed.length * MiB, 'bytes is the changed blocks');
  const secondWire = relay.up - upBefore;
  const changedBytes = changed.length * MiB;
  t.ok(
    secondWire >= changedBytes && secondWire < changedBytes + 256 * 1024,
    `the re-sync sends the changed blocks and little else (${secondWire} bytes up for ${changedBytes} changed, device ${SIZE})`,
  );
  t.ok(allocatedBytes(target) <= allocatedBefore - MiB, `the block that became zero is a hole now (${allocatedBefore} → ${allocatedBytes(target)})`);

  // Nothing changed: only hashes cross (32 bytes per MiB block one way, almost nothing the other).
  const downBefore = relay.down;
  const upBefore3 = relay.up;
  const third = rig.startClient(rig.clientConfig(relay.port, source));
  t.equal((await third.done).exitCode, 0, 'a no-change re-sync exits 0');
  t.ok(relay.up - upBefore3 < 16 * 1024, `an unchanged device costs the client almost nothing on the wire (${relay.up - upBefore3} bytes up)`);
  t.ok(relay.down - downBefore < BLOCKS * 40 + 16 * 1024, `and the server its hashes (${relay.down - downBefore} bytes down)`);
  await server.stop();
});
