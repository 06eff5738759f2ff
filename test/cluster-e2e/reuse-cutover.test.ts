// Destination PVCs that already hold data, on the real cluster, without root (the default): the
// copy removes only what the source does not have, a sibling PVC served by the same server pod is
// not touched by another PVC's copy, and a CutOver after a Stage reuses the PVCs and sends only the
// changes.
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { mutateTree } from '../support/tree.js';
import {
  chownTree,
  createPvc,
  differences,
  e2eCluster,
  explain,
  IMAGE_UID,
  leftovers,
  migrate,
  resultsOf,
  scenario,
  settingsFile,
  sourcePvc,
  specFile,
} from './support.js';

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  t.test('reused destination PVCs: only what the source lacks is removed; Stage then CutOver', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'reuse', 'restricted');
    const sibling = await sourcePvc(cluster, src, 'sibling', { seed: 31, chownTo: IMAGE_UID });
    const data = await sourcePvc(cluster, src, 'data', { seed: 32, chownTo: IMAGE_UID });
    writeFileSync(join(sibling, 'sentinel'), 'the sibling keeps this\n');
    chownTree(sibling, IMAGE_UID, IMAGE_UID);

    // The destination PVCs exist already (a CutOver reuses them), holding data of their own.
    const siblingTarget = await createPvc(cluster, dst, 'sibling');
    const dataTarget = await createPvc(cluster, dst, 'data');
    writeFileSync(join(siblingTarget, 'sentinel'), 'the sibling keeps this\n');
    const sentinelTime = statSync(join(sibling, 'sentinel')).mtime;
    utimesSync(join(siblingTarget, 'sentinel'), sentinelTime, sentinelTime);
    chownTree(siblingTarget, IMAGE_UID, IMAGE_UID);
    const sentinelInode = statSync(join(siblingTarget, 'sentinel')).ino;
    mkdirSync(join(dataTarget, 'only-in-destination'));
    writeFileSync(join(dataTarget, 'only-in-destination', 'old.txt'), 'not in the source\n');
    writeFileSync(join(dataTarget, 'stray.bin'), 'not in the source either\n');

    // The sibling first, one client at a time: a copy of "data" that reached outside its own PVC
    // would remove the sentinel after the sibling's own copy had kept it.
    const pairs = [
      { namespace: src, name: 'sibling', targetNamespace: dst },
      { namespace: src, name: 'data', targetNamespace: dst },
    ];
    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', rsync_fs_group: 2000, rsync_max_concurrent_clients: 1 });
    const stage = migrate(cluster, specFile(work.dir, pairs, { migrationType: 'Stage' }), settings);
    t.equal((await stage.done).code, 0, `Stage exit 0 (${explain(stage)})`);
    t.equal(await differences(data, dataTarget, { owners: false, rootAttributes: false }), '', 'data: the destination equals the source (extra files removed)');
    t.notOk(existsSync(join(dataTarget, 'stray.bin')), 'a file only the destination had is gone');
    t.equal(readFileSync(join(siblingTarget, 'sentinel'), 'utf8'), 'the sibling keeps this\n', "the sibling's sentinel is intact");
    t.equal(statSync(join(siblingTarget, 'sentinel')).ino, sentinelInode, 'and was never removed and written again');
    t.equal(await differences(sibling, siblingTarget, { owners: false, rootAttributes: false }), '', 'sibling: identical');

    const mutation = await mutateTree(data, 7);
    chownTree(data, IMAGE_UID, IMAGE_UID);
    const cutover = migrate(cluster, specFile(work.dir, pairs, { migrationType: 'CutOver' }), settings);
    t.equal((await cutover.done).code, 0, `CutOver exit 0 (${explain(cutover)})`);
    t.equal(resultsOf(cutover)[`${src}/data`]?.status, 'Succeeded');
    t.equal(
      await differences(data, dataTarget, { owners: false, rootAttributes: false }),
      '',
      `after CutOver identical (${mutation.added.length} added, ${mutation.changed.length} changed, ${mutation.deleted.length} deleted)`,
    );
    const sent =
      cutover.events.filter((event) => event.type === 'result' && event.pvc === `${src}/data`).map((event) => (event as { bytes: number }).bytes)[0] ?? -1;
    const stageSent =
      stage.events.filter((event) => event.type === 'result' && event.pvc === `${src}/data`).map((event) => (event as { bytes: number }).bytes)[0] ?? -1;
    t.ok(sent >= 0 && sent < stageSent / 2, `CutOver sent only the changes (${sent} of ${stageSent} bytes)`);
    t.same(await leftovers(cluster, src, dst), [], 'nothing of the runs is left');
  });
}
