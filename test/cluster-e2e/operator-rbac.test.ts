// `dvm controller` with exactly the shipped RBAC (a token of the shipped ServiceAccount, bound to the
// shipped ClusterRole and Role, minted by the API server), and what happens when the leader dies:
// a second controller waits on the Lease, takes over once the killed one's Lease expires, removes
// the dead run's pods before it makes new ones (never two client pods of one PVC), and copies only
// what was not finished; progress never goes down across the takeover.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { stringify as toYaml } from 'yaml';
import { uniqueName } from '../support/cluster.js';
import {
  dvmManifest,
  installCrds,
  phaseIs,
  recordClientPods,
  recordProgress,
  settingsFor,
  shippedRbacKubeconfig,
  startControllerProcess,
  statusesOf,
  transferObjectsOf,
  waitForDvm,
} from './operator-support.js';
import { differences, e2eCluster, IMAGE_UID, leftovers, scenario, sourcePvc } from './support.js';

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  const MiB = 1024 * 1024;
  await installCrds(cluster);

  t.test('the shipped RBAC suffices: new destination namespace, NetworkPolicies, NodePort', async (t) => {
    const { work, src } = await scenario(t, cluster, 'oprbac');
    const ctl = uniqueName('oprbac-ctl');
    const dst = uniqueName('oprbac-new');
    await cluster.createNamespace(ctl, 'restricted');
    t.teardown(() => Promise.all([cluster.deleteNamespace(ctl, false), cluster.deleteNamespace(dst, false)]));
    const kubeconfig = await shippedRbacKubeconfig(t, cluster, ctl, work.dir);
    const canI = (...args: string[]) =>
      cluster
        .kubectl(['auth', 'can-i', ...args, '--as', `system:serviceaccount:${ctl}:dvm-controller`])
        // can-i exits 1 for "no".
        .then(
          (out) => out.trim(),
          () => 'no',
        );
    t.equal(await canI('delete', 'persistentvolumeclaims', '-n', src), 'no', 'the ServiceAccount cannot delete PVCs (not cluster-admin)');
    t.equal(await canI('create', 'pods', '-n', src), 'yes', 'it can create pods (the binding is in place)');
    const tree = await sourcePvc(cluster, src, 'data', { seed: 300, chownTo: IMAGE_UID });
    const settings = join(work.dir, 'mc.yaml');
    writeFileSync(settings, toYaml(settingsFor({ rsync_endpoint_type: 'NodePort', rsync_network_policies: true })));
    const controller = startControllerProcess(t, { kubeconfig, namespace: ctl, settings });
    await cluster.apply(dvmManifest(ctl, 'with-rbac', [{ namespace: src, name: 'data', targetNamespace: dst }], { createDestinationNamespaces: true }));
    const done = await waitForDvm(cluster, ctl, 'with-rbac', phaseIs('Succeeded', 'Failed'));
    t.equal(done.status.phase, 'Succeeded', `Succeeded (${JSON.stringify(done.status.errors ?? [])})`);
    t.equal(await differences(tree, (await cluster.waitForPvcBound(dst, 'data')).hostPath, { owners: false, rootAttributes: false }), '', 'identical');
    t.same(await transferObjectsOf(cluster, done.metadata.uid), [], 'nothing of the run left');
    const refused = controller.lines.filter((line) => /forbidden|HTTP 403/i.test(line));
    t.same(refused, [], 'no request was refused');
    const kubeconfigToken = /"token":"([^"]+)"/.exec(JSON.stringify(JSON.parse((await import('node:fs')).readFileSync(kubeconfig, 'utf8'))))?.[1] ?? 'none';
    t.notOk(controller.lines.join('\n').includes(kubeconfigToken.slice(0, 30)), 'the token appears in no log line');
  });

  t.test('the leader killed mid-copy: the next one takes over, no PVC copied twice, no pod twice, nothing left', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'opkill');
    const ctl = uniqueName('opkill-ctl');
    await cluster.createNamespace(ctl, 'restricted');
    t.teardown(() => cluster.deleteNamespace(ctl, false));
    const kubeconfig = await shippedRbacKubeconfig(t, cluster, ctl, work.dir);
    const small = await sourcePvc(cluster, src, 'data-1', { seed: 310, files: 20, chownTo: IMAGE_UID });
    const big = await sourcePvc(cluster, src, 'data-2', { seed: 311, files: 20, chownTo: IMAGE_UID, bigFileBytes: 40 * MiB });
    const settings = join(work.dir, 'mc.yaml');
    // One client at a time: data-1 finishes while data-2 has only begun.
    writeFileSync(settings, toYaml(settingsFor({ rsync_max_concurrent_clients: 1, rsync_opt_bwlimit: 4096 })));
    const first = startControllerProcess(t, { kubeconfig, namespace: ctl, settings, identity: 'first' });
    await first.waitForLine(/became the leader/);
    const second = startControllerProcess(t, { kubeconfig, namespace: ctl, settings, identity: 'second' });
    const pods = await recordClientPods(t, cluster, src);
    const progress = await recordProgress(t, cluster, ctl);
    await cluster.apply(
      dvmManifest(
        ctl,
        'survivor',
        ['data-1', 'data-2'].map((name) => ({ namespace: src, name, targetNamespace: dst })),
      ),
    );
    const midway = await waitForDvm(
      cluster,
      ctl,
      'survivor',
      (dvm) =>
        dvm.status?.successfulPods?.length === 1 &&
        dvm.status?.runningPods?.some((pod: any) => pod.pvcRef.name === 'data-2' && Number.parseInt(pod.lastObservedProgressPercent, 10) >= 5),
      120_000,
    );
    t.equal(midway.status.successfulPods[0].pvcRef.name, 'data-1', 'data-1 is recorded as done');
    t.notOk(
      second.lines.some((line) => /became the leader/.test(line)),
      'the second controller waited while the first led',
    );
    // Written after data-1 finished: it reaches the destination only if data-1 is copied again.
    writeFileSync(join(small, 'written-after-the-copy.txt'), 'not to be copied\n');
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await first.exited;
    await second.waitForLine(/became the leader/, 30_000);
    t.comment(`the second controller led ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    const done = await waitForDvm(cluster, ctl, 'survivor', phaseIs('Succeeded', 'Failed'), 150_000);
    t.comment(`Succeeded ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    t.equal(done.status.phase, 'Succeeded', `Succeeded (${JSON.stringify(done.status.errors ?? [])})`);
    t.same(done.status.successfulPods.map((pod: any) => pod.pvcRef.name).sort(), ['data-1', 'data-2']);

    const createdAfterKill = (pvc: string) => (pods.created.get(pvc) ?? []).filter((pod) => pod.at > killedAt).map((pod) => pod.name);
    t.same(createdAfterKill('data-1'), [], 'no client pod for data-1 after the kill: not copied again');
    t.ok(createdAfterKill('data-2').length >= 1, `data-2 got a new client pod (${createdAfterKill('data-2').join(', ')})`);
    t.same(Object.fromEntries(pods.maxAtOnce), { 'data-1': 1, 'data-2': 1 }, 'never two client pods of one PVC at once');
    rmSync(join(small, 'written-after-the-copy.txt'));
    const dst1 = (await cluster.waitForPvcBound(dst, 'data-1')).hostPath;
    t.equal(await differences(small, dst1, { owners: false, rootAttributes: false }), '', 'data-1 as copied the first time, the later file not in it');
    t.equal(await differences(big, (await cluster.waitForPvcBound(dst, 'data-2')).hostPath, { owners: false, rootAttributes: false }), '', 'data-2 identical');

    progress.stop();
    const statuses = statusesOf(progress.versions, `${src}/data-2`);
    const percents = statuses.map((version) => version.status.progressPercent as number);
    t.same(
      percents,
      [...percents].sort((a, b) => a - b),
      `data-2: percent never goes down across the takeover (${percents.join(' ')})`,
    );
    t.ok(statuses.some((version) => version.at < killedAt) && statuses.some((version) => version.at > killedAt), 'written by both controllers');
    const events = await cluster.kubectlJson(['get', 'events', '-n', ctl, '--field-selector', 'involvedObject.name=survivor']);
    t.ok(
      events.items.some((event: any) => event.reason === 'Resumed'),
      'a Resumed Event',
    );
    const lease = await cluster.kubectlJson(['get', 'lease', 'dvm-controller', '-n', ctl]);
    t.equal(lease.spec.holderIdentity, 'second', "the Lease is the second controller's");
    t.same(await transferObjectsOf(cluster, done.metadata.uid), [], 'no transfer object left');
    t.same(await leftovers(cluster, src, dst), []);
  });
}
