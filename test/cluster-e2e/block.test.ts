// Block PVCs (volumeMode: Block) migrated by the real CLI on the real cluster: a source device on a
// loop PV filled from the host (random data with a zero region), a destination loop PV waiting for
// the PVC dvm creates, and the devices' SHA-256 compared from the host after each run.
//   (i)   migration_rsync_privileged: Stage, then 1 % of the source's blocks changed, then CutOver;
//         each verified (verify: true) and byte-identical, only the changed blocks sent the second time;
//   (ii)  dvm's non-root default: the block agents cannot open the device (on this cluster the pod's
//         node is root:root 0600, see block-volume-infra.test.ts), the run fails naming
//         migration_rsync_privileged, leaves nothing, and the destination device stays zero;
//   (iii) targetVolumeMode: Filesystem on a Block source: refused before anything is created.
//
// GUESSED (written while the controller side was in progress; check against it):
//   - the destination PVC's class comes from the pair's targetStorageClass (controller/manifests/pvc.ts),
//     and dvm does not wait for it to be Bound before creating the block server pod (a
//     WaitForFirstConsumer class binds only once that pod is scheduled);
//   - a block result's `bytes` is the block data sent: the non-zero source blocks for a full copy onto
//     a zero device, the changed-to-data blocks for the re-sync (docs/block.md "Events");
//   - in (ii) the failure comes well before rsync_server_ready_timeout_seconds (120 s in settingsFile):
//     the server pod's crash is read by waitServerReady, with exit code 1, and the text naming
//     migration_rsync_privileged is in a result message or in dvm's stderr (either is accepted);
//   - in (ii) the destination PVC dvm created is kept (destination PVCs always are) and is not a leftover;
//   - in (iii) the refusal is exit code 2 (ConfigError) with the preflight message on stderr.
import t from 'tap';
import { blockVolumes, changeBlocks, chooseChanges, fillDevice, hashDevice, MiB, sweepStaleBlockVolumes, zeroHash } from '../support/block-volumes.js';
import { e2eCluster, explain, leftovers, migrate, resultsOf, scenario, settingsFile, specFile } from './support.js';

/** 512 blocks of 1 MiB: the 1 % change is 5 spread blocks, plus one in the zero region and one zeroed. */
const SIZE = 512 * MiB;

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  const swept = await sweepStaleBlockVolumes(cluster);
  if (swept.length > 0) t.comment(`swept what killed runs left: ${swept.join(', ')}`);

  t.test('privileged: a Block PVC copied by Stage, then only its changed blocks by CutOver, verified', async (t) => {
    // baseline: the privileged agents run as root with capabilities restricted refuses.
    const { work, src, dst } = await scenario(t, cluster, 'blk', 'baseline');
    const volumes = await blockVolumes(t, cluster, 'blk');
    const source = await volumes.boundPvc(src, 'disk', SIZE);
    const layout = fillDevice(source, 61);
    // The destination PV waits for the PVC dvm will create (pre-bound by claimRef to dst/disk).
    const target = await volumes.volume(SIZE, { namespace: dst, name: 'disk' });
    t.equal(await hashDevice(target.device, SIZE), zeroHash(SIZE), 'the destination device starts out zero');

    const pairs = [{ namespace: src, name: 'disk', targetNamespace: dst, targetStorageClass: volumes.storageClass, verify: true }];
    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', migration_rsync_privileged: true });
    const key = `${src}/disk`;

    const stage = migrate(cluster, specFile(work.dir, pairs, { migrationType: 'Stage' }), settings);
    t.equal((await stage.done).code, 0, `Stage exit 0 (${explain(stage)})`);
    const staged = resultsOf(stage)[key];
    t.equal(staged?.status, 'Succeeded', 'Stage: Succeeded');
    t.equal(staged?.verified, true, 'Stage: verified');
    const pvc = await cluster.kubectlJson(['get', 'pvc', 'disk', '-n', dst]);
    t.equal(pvc.spec?.volumeMode, 'Block', 'dvm created the destination PVC as a Block volume');
    t.equal(pvc.spec?.storageClassName, volumes.storageClass, 'in targetStorageClass');
    t.equal(pvc.spec?.resources?.requests?.storage, `${SIZE / MiB}Mi`, 'of the source’s size');
    t.equal(pvc.spec?.volumeName, target.pv, 'bound to the waiting loop PV');
    const sourceHash = await hashDevice(source.device, SIZE);
    t.equal(await hashDevice(target.device, SIZE), sourceHash, 'after Stage the destination device equals the source');
    const dataBlocks = layout.blocks - (layout.zeroTo - layout.zeroFrom);
    const stageBytes = stage.events.find((event) => event.type === 'result' && event.pvc === key);
    t.equal(stageBytes && 'bytes' in stageBytes ? stageBytes.bytes : -1, dataBlocks * MiB, 'Stage sent the data blocks, not the zero region');
    t.same(await leftovers(cluster, src, dst), [], 'nothing of the Stage run is left');

    const changes = chooseChanges(layout);
    changeBlocks(source, changes, 62);
    const changedHash = await hashDevice(source.device, SIZE);
    t.not(changedHash, sourceHash, `${changes.length} of ${layout.blocks} source blocks changed on the host`);

    const cutover = migrate(cluster, specFile(work.dir, pairs, { migrationType: 'CutOver' }), settings);
    t.equal((await cutover.done).code, 0, `CutOver exit 0 (${explain(cutover)})`);
    const cut = resultsOf(cutover)[key];
    t.equal(cut?.status, 'Succeeded', 'CutOver: Succeeded');
    t.equal(cut?.verified, true, 'CutOver: verified');
    t.equal(await hashDevice(target.device, SIZE), changedHash, 'after CutOver the destination device equals the changed source');
    const cutBytes = cutover.events.find((event) => event.type === 'result' && event.pvc === key);
    t.equal(
      cutBytes && 'bytes' in cutBytes ? cutBytes.bytes : -1,
      changes.filter((change) => !change.zero).length * MiB,
      'CutOver sent only the blocks that became other data (a zeroed block is a ZERO run, not data)',
    );
    t.same(await leftovers(cluster, src, dst), [], 'nothing of the CutOver run is left');
  });

  t.test('non-root default: fails naming migration_rsync_privileged, leaves nothing, the destination untouched', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'blknr', 'restricted');
    const volumes = await blockVolumes(t, cluster, 'blknr');
    const source = await volumes.boundPvc(src, 'disk', SIZE);
    fillDevice(source, 71);
    const sourceHash = await hashDevice(source.device, SIZE);
    const target = await volumes.volume(SIZE, { namespace: dst, name: 'disk' });

    const pairs = [{ namespace: src, name: 'disk', targetNamespace: dst, targetStorageClass: volumes.storageClass }];
    // rsync_fs_group as the Filesystem e2e tests set it: fsGroup does not reach a volumeDevices node.
    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', rsync_fs_group: 2000 });
    const started = Date.now();
    const run = migrate(cluster, specFile(work.dir, pairs), settings);
    const { code } = await run.done;
    const elapsed = Date.now() - started;
    // Not a timed assertion (a busy node is slow): that it failed on the agent's own refusal, not at
    // the 120 s server readiness timeout, is what the messages below check.
    t.equal(code, 1, `the run fails (${elapsed} ms; ${explain(run)})`);
    const result = resultsOf(run)[`${src}/disk`];
    t.not(result?.status, 'Succeeded', 'the PVC is not Succeeded');
    const said = [result?.message ?? '', ...run.stderr].join('\n');
    t.match(said, /migration_rsync_privileged/, 'the failure names the setting that makes block copies work');
    t.match(said, /not (readable|writable) by this agent \(EACCES/, 'and says the agent could not open the device');
    t.same(await leftovers(cluster, src, dst), [], 'nothing of dvm is left');
    t.equal(await hashDevice(target.device, SIZE), zeroHash(SIZE), 'the destination device is untouched (still zero)');
    t.equal(await hashDevice(source.device, SIZE), sourceHash, 'and the source too');
  });

  t.test('targetVolumeMode: Filesystem for a Block source is refused before anything is created', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'blkmode', 'restricted');
    const volumes = await blockVolumes(t, cluster, 'blkmode');
    await volumes.boundPvc(src, 'disk', 16 * MiB);
    const pairs = [{ namespace: src, name: 'disk', targetNamespace: dst, targetStorageClass: volumes.storageClass, targetVolumeMode: 'Filesystem' }];
    const run = migrate(cluster, specFile(work.dir, pairs), settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP' }));
    t.equal((await run.done).code, 2, 'bad input');
    t.match(run.stderr.join('\n'), /persistentVolumeClaims\[0\]\.targetVolumeMode/, `names the field (${run.stderr.slice(-2).join(' | ')})`);
    t.match(run.stderr.join('\n'), /Block/, 'and the source’s mode');
    t.same(await leftovers(cluster, src, dst), [], 'nothing was created');
    t.equal((await cluster.kubectl(['get', 'pvc', '-n', dst, '-o', 'name'])).trim(), '', 'not even the destination PVC');
  });
}
