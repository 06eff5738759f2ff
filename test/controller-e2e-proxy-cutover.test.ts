// Through an HTTP CONNECT proxy (tinyproxy with BasicAuth) over a Route; and a CutOver after a Stage
// reuses the destination PVCs and sends only the changes.
import t from 'tap';
import { runMigration } from '../controller/index.js';
import type { ControllerEvent } from '../controller/migration/events.js';
import { LABEL_CREATED_FOR_PVC, runLabels } from '../controller/manifests/labels.js';
import { kindByName } from './support/fake-apiserver/kinds.js';
import type { StoredEvent } from './support/fake-apiserver/store.js';
import { clustersOf, destinationNamespaces, labelledLeft, seedPvcs, specFor, treeDifferences, type PvcRef } from './support/pod-runner/migration-fixture.js';
import { startTwoClusters } from './support/pod-runner/two-clusters.js';
import { startTinyproxy } from './support/tinyproxy.js';
import { mutateTree } from './support/tree.js';

const world = await startTwoClusters();
t.teardown(() => world.close());
const clusters = clustersOf(world);
const PVC = kindByName('PersistentVolumeClaim');

t.test('Route through tinyproxy with BasicAuth', async (t) => {
  const password = 'pr0xy-s3cret';
  const proxy = await startTinyproxy({ user: 'dvm', password });
  t.teardown(() => proxy.stop());
  const pvcs: PvcRef[] = [
    ['proxy-a', 'data-1'],
    ['proxy-a', 'data-2'],
    ['proxy-b', 'data-3'],
  ];
  await seedPvcs(world, pvcs);
  destinationNamespaces(world, pvcs);
  const events: ControllerEvent[] = [];
  const result = await runMigration(
    specFor(pvcs),
    { rsync_endpoint_type: 'Route', stunnel_tcp_proxy: proxy.url, noProxy: '.svc,10.0.0.0/8' },
    clusters,
    (event) => events.push(event),
  );
  t.equal(result.status, 'Succeeded', result.message);
  t.equal(await treeDifferences(world, pvcs), '');
  const router = `${world.destination.network.routerIp}:443`;
  t.ok(
    proxy.connects().filter((target) => target === router).length >= 3,
    `every client went through the proxy to the router (${proxy.connects().join(', ')})`,
  );
  t.notOk(JSON.stringify({ events, result }).includes(password), 'the proxy password appears in no event and no summary');
  t.same(labelledLeft(world), []);
});

t.test('Stage, then CutOver: destination PVCs reused, only changes sent', async (t) => {
  const pvcs: PvcRef[] = [
    ['cut-a', 'data-1'],
    ['cut-b', 'data-2'],
  ];
  await seedPvcs(world, pvcs, { files: 60 });
  destinationNamespaces(world, pvcs);
  // The application still runs on the source, on its node: the RWO client must go there too.
  world.source.seed({
    kind: 'Pod',
    metadata: { name: 'app-0', namespace: 'cut-a' },
    spec: {
      nodeName: 'source-node-1',
      containers: [{ name: 'app', image: 'app' }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-1' } }],
    },
    status: { phase: 'Running' },
  });
  // Leftovers of an earlier, crashed run in a namespace of this run, and of another run elsewhere.
  world.destination.seed({ kind: 'Secret', metadata: { name: 'stale', namespace: 'cut-a', labels: runLabels('crashed') } });
  world.seedNamespace('destination', 'elsewhere');
  world.destination.seed({ kind: 'Secret', metadata: { name: 'other-run', namespace: 'elsewhere', labels: runLabels('other') } });
  // Client pods not yet finished, by name: what the concurrency limit bounds.
  const active = new Set<string>();
  let peakClientPods = 0;
  const pinned: Record<string, unknown> = {};
  const onSourceEvent = (event: StoredEvent) => {
    if (event.kind.kind !== 'Pod' || !event.object.metadata.labels?.[LABEL_CREATED_FOR_PVC]) return;
    if (event.type === 'ADDED') {
      pinned[event.object.metadata.labels[LABEL_CREATED_FOR_PVC]] =
        event.object.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]?.matchFields?.[0]?.values?.[0];
    }
    const finished = event.type === 'DELETED' || ['Succeeded', 'Failed'].includes(event.object.status?.phase);
    if (finished) active.delete(event.object.metadata.name);
    else active.add(event.object.metadata.name);
    peakClientPods = Math.max(peakClientPods, active.size);
  };
  world.source.api.store.on('event', onSourceEvent);
  const stage = await runMigration(specFor(pvcs, { migrationType: 'Stage' }), { rsync_endpoint_type: 'NodePort', rsync_max_concurrent_clients: 1 }, clusters);
  world.source.api.store.off('event', onSourceEvent);
  t.equal(stage.status, 'Succeeded', stage.message);
  t.equal(peakClientPods, 1, 'rsync_max_concurrent_clients: 1 means one unfinished client pod at a time');
  t.same(pinned, { 'data-1': 'source-node-1', 'data-2': undefined }, 'the RWO PVC in use is copied from its node');
  t.notOk(world.destination.api.store.get(kindByName('Secret'), 'cut-a', 'stale'), "an earlier run's leftovers in this run's namespace are removed");
  t.ok(world.destination.api.store.get(kindByName('Secret'), 'elsewhere', 'other-run'), 'other namespaces are not touched');
  world.destination.api.store.remove(kindByName('Secret'), 'elsewhere', 'other-run');
  t.equal(await treeDifferences(world, pvcs), '');
  const uids = pvcs.map(([namespace, name]) => world.destination.api.store.get(PVC, namespace, name)?.metadata.uid);

  for (const [namespace, name] of pvcs) await mutateTree(world.pvcDir('source', namespace, name));
  t.not(await treeDifferences(world, pvcs), '', 'the sources changed after Stage');
  const writesBefore = world.destination.writes().length;
  const cutover = await runMigration(
    { ...specFor(pvcs, { migrationType: 'CutOver' }), persistentVolumeClaims: pvcs.map(([namespace, name]) => ({ namespace, name, verify: true })) },
    { rsync_endpoint_type: 'NodePort' },
    clusters,
  );
  t.equal(cutover.status, 'Succeeded', cutover.message);
  t.equal(await treeDifferences(world, pvcs), '', 'the destinations equal the changed sources');
  t.same(
    pvcs.map(([namespace, name]) => world.destination.api.store.get(PVC, namespace, name)?.metadata.uid),
    uids,
    'the same destination PVCs',
  );
  t.notOk(
    world.destination
      .writes()
      .slice(writesBefore)
      .some((write) => write.kind === 'PersistentVolumeClaim'),
    'no PVC was written in CutOver',
  );
  for (const [index, summary] of cutover.pvcs.entries()) {
    const staged = stage.pvcs[index]!;
    t.ok(summary.bytes * 3 < staged.bytes, `${summary.pvc}: CutOver sent ${summary.bytes} bytes, Stage ${staged.bytes}`);
    t.equal(summary.verified, true, `${summary.pvc}: verified`);
    t.equal(cutover.apiWrites.perPvc[summary.pvc], 3, `${summary.pvc}: 3 writes (TLS Secret, config Secret, pod) when the PVC is reused`);
  }
  t.same(labelledLeft(world), []);
});
