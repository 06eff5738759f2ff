// The run handle (startMigration): the caller sees every event from the first phase on, the handle's
// own aggregate follows the agents and is finished with the result, cancel() aborts and cleans up,
// and a run in another run's namespaces leaves it alone when removeStaleRuns is false.
import t from 'tap';
import { startMigration } from '../controller/index.js';
import type { ControllerEvent } from '../controller/migration/events.js';
import { clustersOf, destinationNamespaces, labelledLeft, seedPvcs, specFor, treeDifferences, type PvcRef } from './support/pod-runner/migration-fixture.js';
import { startTwoClusters } from './support/pod-runner/two-clusters.js';

const world = await startTwoClusters();
t.teardown(() => world.close());
const clusters = clustersOf(world);

t.test('events from the first phase, an aggregate of its own, finished with the result', async (t) => {
  const pvcs: PvcRef[] = [
    ['handle-a', 'data-1'],
    ['handle-a', 'data-2'],
  ];
  await seedPvcs(world, pvcs);
  destinationNamespaces(world, pvcs);
  const run = startMigration({ spec: specFor(pvcs), settings: { rsync_endpoint_type: 'ClusterIP' }, clusters, runId: 'handle-1' });
  t.equal(run.runId, 'handle-1');
  t.same(
    run.progress.snapshot().pvcs.map((pvc) => [pvc.pvc, pvc.state]),
    [
      ['handle-a/data-1', 'Pending'],
      ['handle-a/data-2', 'Pending'],
    ],
    'every PVC known from the start',
  );
  const events: ControllerEvent[] = [];
  run.onEvent((event) => events.push(event));
  let finished = false;
  run.progress.on('finished', () => {
    finished = true;
  });
  const result = await run.result;
  t.equal(result.status, 'Succeeded', result.message);
  t.equal(events[0]?.type === 'phase' && events[0].phase, 'preflight', 'the first event is the first phase');
  t.ok(finished, 'the aggregate was finished');
  const snapshot = run.progress.snapshot();
  t.same(
    snapshot.pvcs.map((pvc) => pvc.state),
    ['Succeeded', 'Succeeded'],
  );
  t.equal(snapshot.totals.percent, 100);
  t.equal(snapshot.message, result.message);
  t.equal(await treeDifferences(world, pvcs), '');
  t.same(labelledLeft(world), []);
});

t.test('cancel(): Aborted, nothing left', async (t) => {
  const pvcs: PvcRef[] = [['handle-b', 'data-1']];
  await seedPvcs(world, pvcs, { files: 20, bigFileBytes: 3 * 1024 * 1024 });
  destinationNamespaces(world, pvcs);
  const run = startMigration({ spec: specFor(pvcs), settings: { rsync_endpoint_type: 'ClusterIP', rsync_opt_bwlimit: 256 }, clusters });
  await new Promise<void>((resolve) =>
    run.onEvent((event) => {
      if (event.type === 'progress') resolve();
    }),
  );
  run.cancel();
  const result = await run.result;
  t.equal(result.status, 'Aborted');
  t.ok(run.progress.finished);
  t.same(labelledLeft(world), []);
});

t.test('removeStaleRuns: false leaves a concurrent run in the same namespaces alone', async (t) => {
  const first: PvcRef[] = [['handle-c', 'data-1']];
  const second: PvcRef[] = [['handle-c', 'data-2']];
  await seedPvcs(world, [...first, ...second], { files: 20, bigFileBytes: 2 * 1024 * 1024 });
  destinationNamespaces(world, [...first, ...second]);
  const slow = { rsync_endpoint_type: 'ClusterIP', rsync_opt_bwlimit: 512 };
  const a = startMigration({ spec: specFor(first), settings: slow, clusters, runId: 'handle-c1', removeStaleRuns: false });
  await new Promise<void>((resolve) =>
    a.onEvent((event) => {
      if (event.type === 'progress') resolve();
    }),
  );
  const b = startMigration({ spec: specFor(second), settings: slow, clusters, runId: 'handle-c2', removeStaleRuns: false });
  const [resultA, resultB] = await Promise.all([a.result, b.result]);
  t.equal(resultA.status, 'Succeeded', `the first run was not disturbed (${resultA.message})`);
  t.equal(resultB.status, 'Succeeded', resultB.message);
  t.equal(await treeDifferences(world, [...first, ...second]), '');
  t.same(labelledLeft(world), []);
});
