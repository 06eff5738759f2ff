// The data-loss findings of the option review, on the real cluster: a verify that the user's filters
// cannot fool, and options that would delete what the source does not ask for refused before
// anything is created (the destination PVC already holds data, as in a CutOver).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createPvc, e2eCluster, IMAGE_UID, leftovers, migrate, resultsOf, scenario, settingsFile, sourcePvc, specFile } from './support.js';

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  t.test('--exclude=* with verify: never Succeeded or verified for an empty copy; options that delete beyond the copy refused', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'safe', 'restricted');
    await sourcePvc(cluster, src, 'data', { seed: 101, files: 30, chownTo: IMAGE_UID });
    const target = await createPvc(cluster, dst, 'data');
    writeFileSync(join(target, 'kept.txt'), 'data the destination already had\n');
    const pairs = [{ namespace: src, name: 'data', targetNamespace: dst, verify: true }];

    const refused = migrate(
      cluster,
      specFile(work.dir, pairs),
      settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', rsync_fs_group: 2000, rsync_opt_extras: '--exclude=* --delete-excluded' }),
    );
    t.equal((await refused.done).code, 2, 'bad input');
    t.match(refused.stderr.join('\n'), /rsync_opt_extras.*--delete-excluded/, 'names the setting and the option');
    t.ok(existsSync(join(target, 'kept.txt')), 'the destination keeps its data');
    t.same(await leftovers(cluster, src, dst), [], 'nothing was created');

    const filtered = migrate(
      cluster,
      specFile(work.dir, pairs),
      settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', rsync_fs_group: 2000, rsync_opt_extras: '--exclude=*' }),
    );
    const { code } = await filtered.done;
    const result = resultsOf(filtered)[`${src}/data`];
    t.not(code, 0, 'the run does not end in success');
    t.equal(result?.status, 'Failed', 'the PVC is not Succeeded');
    t.not(result?.verified, true, 'and never verified');
    t.match(result?.message ?? '', /--exclude=\*/, `the message names the filter that limited the copy (${result?.message})`);
  });
}
