// Real block devices (loop devices over files, as root): device to device with a 1% re-sync, a
// smaller destination device refused. Skipped when loop devices cannot be made here.
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MiB, attachLoop, changeBlock, createBlockRig, detachLoop, hashPrefix, writeImage } from './support/block-rig.js';

const BLOCKS = 128;
const SIZE = BLOCKS * MiB;

function file(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
}

t.test('loop device to loop device: full copy, 1% re-sync, a smaller device refused', async (t) => {
  const rig = await createBlockRig();
  const loops: string[] = [];
  t.teardown(() => {
    for (const loop of loops) detachLoop(loop);
    rig.cleanup();
  });
  const sourceFile = join(rig.dir, 'source.img');
  writeImage(sourceFile, BLOCKS, (index) => index % 8 === 0);
  // Stale content on the destination device: zero blocks of the source must become zero there.
  const targetFile = join(rig.dir, 'target.img');
  writeImage(targetFile, BLOCKS, () => false, 7);
  const smallFile = join(rig.dir, 'small.img');
  file(smallFile, SIZE - MiB);
  const source = attachLoop(sourceFile);
  const target = source === null ? null : attachLoop(targetFile);
  const small = target === null ? null : attachLoop(smallFile);
  for (const loop of [source, target, small]) if (loop) loops.push(loop);
  if (!source || !target || !small) {
    t.plan(0, 'loop devices are not available (needs root and the loop driver)');
    return;
  }
  t.equal(hashPrefix(target, SIZE) === hashPrefix(source, SIZE), false, 'the devices start different');

  const server = await rig.startServer(target);
  const relay = await rig.relay(server.port);
  const first = await rig.startClient(rig.clientConfig(relay.port, source, { verify: true })).done;
  t.equal(first.exitCode, 0, `device to device exits 0 (${first.result?.message})`);
  t.equal(first.result?.verified, true);
  t.equal(hashPrefix(target, SIZE), hashPrefix(source, SIZE), 'the destination device is the source device');
  t.equal(await server.metric('dvm_block_zeroed_bytes_total'), (BLOCKS / 8) * MiB, "the source's zero blocks were zeroed on the device");

  // 1% of the blocks change through the source device.
  const changed = [3, 77];
  for (const [n, index] of changed.entries()) changeBlock(source, index, 500 + n);
  const upBefore = relay.up;
  const second = await rig.startClient(rig.clientConfig(relay.port, source)).done;
  t.equal(second.exitCode, 0, 're-sync exits 0');
  t.equal(hashPrefix(target, SIZE), hashPrefix(source, SIZE), 'equal after the re-sync');
  const wire = relay.up - upBefore;
  t.ok(wire >= changed.length * MiB && wire < changed.length * MiB + 128 * 1024, `only the changed blocks crossed (${wire} bytes for ${changed.length * MiB})`);

  const smallServer = await rig.startServer(small);
  const refused = await rig.startClient(rig.clientConfig(smallServer.port, source)).done;
  t.equal(refused.exitCode, 1, 'a smaller destination device is refused');
  t.match(refused.result?.message, /target-too-small.*134217728/, `with the sizes (${refused.result?.message})`);
  await server.stop();
  await smallServer.stop();
});
