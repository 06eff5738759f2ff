// End to end through @kubernetes/client-node against fake API servers whose pods run the real agent:
// 3 PVCs in 2 namespaces arrive identical for each endpoint type, progress is read through the pod
// proxy websocket, and nothing labelled is left. The four runs go at once (own namespaces, own run
// ids), which also shows that runs do not disturb each other.
import t from 'tap';
import { runMigration } from '../controller/index.js';
import type { ControllerEvent, MigrationResult } from '../controller/migration/events.js';
import { kindByName } from './support/fake-apiserver/kinds.js';
import { clustersOf, destinationNamespaces, labelledLeft, seedPvcs, specFor, treeDifferences, type PvcRef } from './support/pod-runner/migration-fixture.js';
import { startTwoClusters } from './support/pod-runner/two-clusters.js';

const world = await startTwoClusters();
t.teardown(() => world.close());
const clusters = clustersOf(world);

interface EndpointRun {
  endpoint: string;
  pvcs: PvcRef[];
  events: ControllerEvent[];
  result: MigrationResult;
}

const ENDPOINTS = ['Route', 'NodePort', 'ClusterIP', 'LoadBalancer'];
const prepared = await Promise.all(
  ENDPOINTS.map(async (endpoint) => {
    const prefix = endpoint.toLowerCase();
    const pvcs: PvcRef[] = [
      [`${prefix}-a`, 'data-1'],
      [`${prefix}-a`, 'data-2'],
      [`${prefix}-b`, 'data-3'],
    ];
    // A 3 MiB file at 2 MiB/s: each copy outlasts the controller's first websocket dial, so every
    // PVC's progress comes through the pod proxy (a faster one would be replayed from its log).
    await seedPvcs(world, pvcs, { bigFileBytes: 3 * 1024 * 1024 });
    destinationNamespaces(world, pvcs);
    return { endpoint, pvcs };
  }),
);
const runs: EndpointRun[] = await Promise.all(
  prepared.map(async ({ endpoint, pvcs }) => {
    const events: ControllerEvent[] = [];
    // One of the runs also creates the NetworkPolicies (and must remove them).
    const settings = {
      rsync_endpoint_type: endpoint,
      rsync_server_ready_timeout_seconds: 120,
      rsync_network_policies: endpoint === 'ClusterIP',
      rsync_opt_bwlimit: 2048,
    };
    const result = await runMigration(specFor(pvcs), settings, clusters, (event) => events.push(event));
    return { endpoint, pvcs, events, result };
  }),
);

for (const { endpoint, pvcs, events, result } of runs) {
  t.test(`${endpoint}: 3 PVCs in 2 namespaces`, async (t) => {
    t.equal(result.status, 'Succeeded', result.message);
    t.equal(await treeDifferences(world, pvcs), '', 'every destination tree equals its source');
    for (const [namespace, name] of pvcs) {
      const key = `${namespace}/${name}`;
      const summary = result.pvcs.find((pvc) => pvc.pvc === key)!;
      t.equal(summary.status, 'Succeeded', key);
      t.ok(summary.bytes > 0, `${key} sent bytes`);
      t.equal(summary.podAttempts, 1);
      t.equal(summary.progressSource, 'pod-proxy-websocket', `${key} progress read through the pod proxy`);
      t.equal(events.filter((event) => event.type === 'result' && event.pvc === key).length, 1, `${key}: exactly one result event`);
      t.ok(
        events.some((event) => event.type === 'progress' && event.pvc === key),
        `${key}: live progress events arrived`,
      );
      const destinationPvc = world.destination.api.store.get(kindByName('PersistentVolumeClaim'), namespace, name);
      t.equal(destinationPvc?.spec.resources.requests.storage, '1Gi', `${key}: destination PVC sized like the source`);
      t.equal(result.apiWrites.perPvc[key], 4, `${key}: 4 writes (destination PVC, client TLS Secret, client config Secret, client pod)`);
    }
    const namespaces = new Set(pvcs.map(([namespace]) => namespace));
    const seen = [...world.source.writes(), ...world.destination.writes()].filter((write) => namespaces.has(write.namespace ?? '')).length;
    t.equal(result.apiWrites.total, seen, 'the controller counts exactly the writes the API servers saw in its namespaces');
    const policies = [...world.source.writes(), ...world.destination.writes()].filter(
      (write) => write.kind === 'NetworkPolicy' && write.method === 'POST' && namespaces.has(write.namespace ?? ''),
    ).length;
    t.equal(policies, endpoint === 'ClusterIP' ? 8 : 0, 'allow-ingress and allow-egress in each namespace of each side, only when asked');
    t.comment(`${endpoint}: API writes total ${result.apiWrites.total}, shared ${result.apiWrites.shared}, per PVC ${JSON.stringify(result.apiWrites.perPvc)}`);
  });
}

t.test('nothing labelled is left on either cluster', async (t) => {
  t.same(labelledLeft(world), []);
});
