// Every endpoint type on the real test cluster, as a user runs dvm: non-root pods in namespaces that
// enforce Pod Security `restricted`, root pods (migration_rsync_privileged) in `baseline` ones.
// Source and destination are two namespaces of the one cluster (a migration within a cluster).
import t from 'tap';
import { differences, e2eCluster, explain, IMAGE_UID, leftovers, migrate, resultsOf, scenario, settingsFile, sourcePvc, specFile } from './support.js';

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  const cases = [
    { endpoint: 'Route', root: false },
    { endpoint: 'NodePort', root: true },
    { endpoint: 'ClusterIP', root: false },
    { endpoint: 'LoadBalancer', root: true },
  ] as const;
  for (const { endpoint, root } of cases) {
    t.test(`${endpoint}, ${root ? 'root (baseline)' : 'non-root (restricted)'}`, async (t) => {
      const { work, src, dst } = await scenario(t, cluster, endpoint.toLowerCase(), root ? 'baseline' : 'restricted');
      // Root keeps owners, so the tree has several; without root the client reads what the image's
      // user can read: the data of an application that ran as that user.
      const trees = await Promise.all(
        ['data-1', 'data-2'].map((name, index) =>
          sourcePvc(cluster, src, name, {
            seed: 10 + index,
            owners: root,
            bigFileBytes: index === 0 ? 3 * 1024 * 1024 : 0,
            ...(root ? {} : { chownTo: IMAGE_UID }),
          }),
        ),
      );
      const spec = specFile(
        work.dir,
        ['data-1', 'data-2'].map((name) => ({ namespace: src, name, targetNamespace: dst })),
        { createDestinationNamespaces: false },
      );
      const settings = settingsFile(work.dir, {
        rsync_endpoint_type: endpoint,
        ...(root ? { migration_rsync_privileged: true } : { rsync_fs_group: 2000 }),
      });
      const run = migrate(cluster, spec, settings);
      const { code } = await run.done;
      t.equal(code, 0, `dvm migrate exit 0 (${explain(run)})`);
      const results = resultsOf(run);
      for (const [index, name] of ['data-1', 'data-2'].entries()) {
        t.equal(results[`${src}/${name}`]?.status, 'Succeeded', `${name} Succeeded`);
        const target = await cluster.waitForPvcBound(dst, name);
        t.equal(
          await differences(trees[index]!, target.hostPath, { owners: root, rootAttributes: root }),
          '',
          `${name}: identical${root ? ' with owners' : ' but for owners and the volume root'}`,
        );
      }
      t.same(await leftovers(cluster, src, dst), [], 'nothing of the run is left');
    });
  }
}
