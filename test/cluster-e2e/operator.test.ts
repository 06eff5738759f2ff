// `dvm controller` on the real test cluster, run as a host process with the admin kubeconfig: a
// DirectVolumeMigration applied with kubectl goes to Succeeded with identical trees and progress
// resources whose percent and bytes only go up, written at most every 2 s; a malformed one gets a
// condition naming the field and nothing else; one deleted mid-copy leaves nothing behind.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { stringify as toYaml } from 'yaml';
import { uniqueName } from '../support/cluster.js';
import {
  dvmManifest,
  getDvm,
  installCrds,
  phaseIs,
  recordProgress,
  settingsFor,
  shortestWriteInterval,
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

  t.test('a DirectVolumeMigration to Succeeded: identical trees, progress only up, at most one write per 2 s per PVC', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'op');
    const ctl = uniqueName('op-ctl');
    await cluster.createNamespace(ctl, 'restricted');
    t.teardown(() => cluster.deleteNamespace(ctl, false));
    const trees = await Promise.all(
      ['data-1', 'data-2'].map((name, index) =>
        sourcePvc(cluster, src, name, {
          seed: 200 + index,
          chownTo: IMAGE_UID,
          bigFileBytes: index === 0 ? 24 * MiB : 0,
        }),
      ),
    );
    const settings = join(work.dir, 'mc.yaml');
    writeFileSync(settings, toYaml(settingsFor({ rsync_opt_bwlimit: 4096 })));
    // The destination side through a kubeconfig Secret (the same cluster, another credential path).
    const adminKubeconfig = (await import('node:fs')).readFileSync(cluster.kubeconfig, 'utf8');
    await cluster.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'dst-cluster', namespace: ctl }, stringData: { kubeconfig: adminKubeconfig } });
    const controller = startControllerProcess(t, { kubeconfig: cluster.kubeconfig, namespace: ctl, settings, listen: true });
    const recorder = await recordProgress(t, cluster, ctl);
    const startedAt = Date.now();
    await cluster.apply(
      dvmManifest(
        ctl,
        'migrate-two',
        ['data-1', 'data-2'].map((name) => ({ namespace: src, name, targetNamespace: dst })),
        {
          destMigClusterRef: { kind: 'Secret', name: 'dst-cluster' },
        },
      ),
    );
    const done = await waitForDvm(cluster, ctl, 'migrate-two', phaseIs('Succeeded', 'Failed'));
    t.comment(`DirectVolumeMigration Succeeded after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    t.equal(done.status.phase, 'Succeeded', `phase Succeeded (${JSON.stringify(done.status.errors ?? [])})`);
    t.ok(
      done.status.conditions.some((c: any) => c.type === 'Succeeded' && c.status === 'True'),
      'a Succeeded condition',
    );
    t.notOk(
      done.status.conditions.some((c: any) => c.type === 'Running'),
      'no Running condition any more',
    );
    t.same(done.status.successfulPods.map((pod: any) => pod.pvcRef.name).sort(), ['data-1', 'data-2'], 'both PVCs in successfulPods');
    t.same([done.status.failedPods, done.status.runningPods, done.status.pendingPods], [[], [], []]);
    t.same(done.status.counts, { total: 2, pending: 0, running: 0, succeeded: 2, failed: 0 });
    t.ok(done.metadata.finalizers.includes('migration.openshift.io/dvm-controller'), 'the finalizer is on it');
    for (const [index, name] of ['data-1', 'data-2'].entries()) {
      const target = await cluster.waitForPvcBound(dst, name);
      t.equal(await differences(trees[index]!, target.hostPath, { owners: false, rootAttributes: false }), '', `${name}: identical`);
    }

    await new Promise((resolveSleep) => setTimeout(resolveSleep, 1000));
    recorder.stop();
    const dvmps = await cluster.kubectlJson(['get', 'directvolumemigrationprogresses', '-n', ctl]);
    t.equal(dvmps.items.length, 2, 'one DirectVolumeMigrationProgress per PVC');
    for (const name of ['data-1', 'data-2']) {
      const statuses = statusesOf(recorder.versions, `${src}/${name}`);
      const percents = statuses.map((version) => version.status.progressPercent as number);
      const bytes = statuses.map((version) => version.status.transferredBytes as number);
      t.ok(statuses.length >= 2, `${name}: ${statuses.length} progress versions seen`);
      t.same(
        percents,
        [...percents].sort((a, b) => a - b),
        `${name}: percent never goes down (${percents.join(' ')})`,
      );
      t.same(
        bytes,
        [...bytes].sort((a, b) => a - b),
        `${name}: bytes never go down`,
      );
      const final = statuses.at(-1)!.status;
      t.match(final, { phase: 'Succeeded', podPhase: 'Succeeded', progressPercent: 100, totalProgressPercentage: '100%' }, `${name}: final DVMP status`);
      t.equal(final.transferredBytes >= final.totalBytes * 0.9, true, `${name}: bytes ${final.transferredBytes} of ${final.totalBytes}`);
      const shortest = shortestWriteInterval(statuses);
      const arrivals = statuses.map((version) => version.at);
      const shortestArrival = Math.min(...arrivals.slice(1).map((at, index) => at - arrivals[index]!));
      t.comment(`${name}: ${statuses.length} status writes, shortest interval ${shortest} ms by lastUpdateTime, ${shortestArrival} ms between watch events`);
      t.ok(shortest >= 1900, `${name}: status writes at least ~2 s apart (shortest ${shortest} ms)`);
    }
    const big = statusesOf(recorder.versions, `${src}/data-1`);
    t.ok(
      big.some((version) => version.status.phase === 'Running' && version.status.progressPercent > 0 && version.status.progressPercent < 100),
      'data-1 was seen mid-copy (Running, between 0 and 100 %)',
    );
    t.ok(
      big.some((version) => /^\d+(\.\d+)?[kMG]?B\/s$/.test(version.status.lastObservedTransferRate) && version.status.transferRateBytesPerSecond > 0),
      'a transfer rate while copying',
    );

    const events = await cluster.kubectlJson(['get', 'events', '-n', ctl, '--field-selector', 'involvedObject.name=migrate-two']);
    const reasons = events.items.map((event: any) => event.reason);
    t.ok(reasons.includes('Started') && reasons.includes('Succeeded'), `Events Started and Succeeded (${reasons.join(', ')})`);
    const snapshot = (await (await fetch(new URL('snapshot', await controller.progressUrl()))).json()) as { pvcs: Array<{ pvc: string; state: string }> };
    t.same(
      snapshot.pvcs.map((pvc) => [pvc.pvc, pvc.state]).sort(),
      [
        [`${src}/data-1`, 'Succeeded'],
        [`${src}/data-2`, 'Succeeded'],
      ],
      'the progress server shows the run',
    );
    t.same(await transferObjectsOf(cluster, done.metadata.uid), [], 'no transfer object of the run left');
    t.same(await leftovers(cluster, src, dst), []);
    const logs = controller.lines.join('\n');
    const embedded = /client-key-data: (\S+)/.exec(adminKubeconfig)?.[1] ?? 'no-key';
    t.notOk(logs.includes(embedded.slice(0, 40)), "the kubeconfig Secret's key appears in no log line");
    t.equal(await controller.stop(), 0, 'SIGTERM: exit 0');
  });

  t.test('a malformed DirectVolumeMigration: a condition naming the field, nothing created', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'opbad');
    const ctl = uniqueName('opbad-ctl');
    await cluster.createNamespace(ctl, 'restricted');
    t.teardown(() => cluster.deleteNamespace(ctl, false));
    await sourcePvc(cluster, src, 'data', { seed: 210, files: 10, chownTo: IMAGE_UID });
    const settings = join(work.dir, 'mc.yaml');
    writeFileSync(settings, toYaml(settingsFor()));
    startControllerProcess(t, { kubeconfig: cluster.kubeconfig, namespace: ctl, settings });
    await cluster.apply(dvmManifest(ctl, 'bad-name', [{ namespace: src, name: 'Data_1', targetNamespace: dst }]));
    await cluster.apply(
      dvmManifest(ctl, 'bad-ref', [{ namespace: src, name: 'data', targetNamespace: dst }], {
        srcMigClusterRef: { kind: 'Secret', name: 'elsewhere', namespace: 'kube-system' },
      }),
    );
    await cluster.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'file-token', namespace: ctl },
      stringData: {
        kubeconfig: toYaml({
          apiVersion: 'v1',
          kind: 'Config',
          'current-context': 'x',
          clusters: [{ name: 'x', cluster: { server: 'https://198.51.100.1:6443' } }],
          users: [{ name: 'x', user: { 'token-file': '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
          contexts: [{ name: 'x', context: { cluster: 'x', user: 'x' } }],
        }),
      },
    });
    await cluster.apply(
      dvmManifest(ctl, 'bad-kubeconfig', [{ namespace: src, name: 'data', targetNamespace: dst }], {
        destMigClusterRef: { kind: 'Secret', name: 'file-token' },
      }),
    );
    const cases = [
      ['bad-name', 'InvalidSpec', /^spec\.persistentVolumeClaims\.0\.name: must be a DNS subdomain/],
      ['bad-ref', 'InvalidSpec', /^spec\.srcMigClusterRef\.namespace: the kubeconfig Secret must be in the DirectVolumeMigration's own namespace/],
      ['bad-kubeconfig', 'InvalidClusterRef', /^spec\.destMigClusterRef: Secret .*file-token key kubeconfig: users\[\]\.user\.token-file is not allowed/],
    ] as const;
    for (const [name, type, message] of cases) {
      const failed = await waitForDvm(cluster, ctl, name, phaseIs('Failed'), 60_000);
      const condition = failed.status.conditions.find((c: any) => c.type === type);
      t.match(condition, { status: 'True', category: 'Critical' }, `${name}: a ${type} condition`);
      t.match(condition?.message, message, `${name}: names the field (${condition?.message})`);
      t.notOk(failed.metadata.finalizers?.length, `${name}: no finalizer`);
    }
    t.equal((await cluster.kubectlJson(['get', 'directvolumemigrationprogresses', '-n', ctl])).items.length, 0, 'no progress resource');
    t.same(await leftovers(cluster, src, dst), [], 'nothing in the PVC namespaces');
    t.equal((await cluster.kubectlJson(['get', 'pvc', '-n', dst])).items.length, 0, 'no destination PVC');
    const events = await cluster.kubectlJson(['get', 'events', '-n', ctl, '--field-selector', 'reason=InvalidSpec']);
    t.ok(events.items.length >= 2, 'InvalidSpec Events');
  });

  t.test('deleted mid-copy: the copy stops, nothing of it is left, the resource goes', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'opdel');
    const ctl = uniqueName('opdel-ctl');
    await cluster.createNamespace(ctl, 'restricted');
    t.teardown(() => cluster.deleteNamespace(ctl, false));
    await sourcePvc(cluster, src, 'data', { seed: 220, chownTo: IMAGE_UID, bigFileBytes: 48 * MiB });
    const settings = join(work.dir, 'mc.yaml');
    writeFileSync(settings, toYaml(settingsFor({ rsync_opt_bwlimit: 2048 })));
    startControllerProcess(t, { kubeconfig: cluster.kubeconfig, namespace: ctl, settings });
    await cluster.apply(dvmManifest(ctl, 'doomed', [{ namespace: src, name: 'data', targetNamespace: dst }]));
    const running = await waitForDvm(
      cluster,
      ctl,
      'doomed',
      (dvm) => dvm.status?.runningPods?.some((pod: any) => Number.parseInt(pod.lastObservedProgressPercent, 10) > 0),
      90_000,
    );
    const runId = running.metadata.uid as string;
    t.ok((await transferObjectsOf(cluster, runId)).length > 0, 'the run has transfer objects while copying');
    const deletedAt = Date.now();
    await cluster.kubectl(['delete', 'directvolumemigration', 'doomed', '-n', ctl, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
    t.comment(`deleted in ${((Date.now() - deletedAt) / 1000).toFixed(1)} s`);
    t.equal(await getDvm(cluster, ctl, 'doomed'), undefined, 'the resource is gone');
    t.same(await transferObjectsOf(cluster, runId), [], 'no pod, Secret or Service of the run anywhere');
    t.same(await leftovers(cluster, src, dst), []);
    t.equal((await cluster.kubectlJson(['get', 'directvolumemigrationprogresses', '-n', ctl])).items.length, 0, 'no progress resource');
  });
}
