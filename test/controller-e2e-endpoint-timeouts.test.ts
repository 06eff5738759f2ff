// An endpoint that never becomes usable fails the run with a message that says which and why, and
// the run still leaves nothing behind; Routes on a cluster without them are refused up front.
import t from 'tap';
import { ConfigError, connectClusters, runMigration } from '../controller/index.js';
import { startFakeCluster } from './support/fake-apiserver/index.js';
import { clustersOf, destinationNamespaces, labelledLeft, seedPvcs, specFor, writeCount, type PvcRef } from './support/pod-runner/migration-fixture.js';
import { startTwoClusters } from './support/pod-runner/two-clusters.js';

// No router admits Routes and no load-balancer controller answers in this world. The timeout leaves
// a loaded machine time to get the server pod Ready, so what times out is the endpoint.
const world = await startTwoClusters({ runner: { admitRoutes: false, assignLoadBalancers: false } });
t.teardown(() => world.close());
const clusters = clustersOf(world);
const pvcs: PvcRef[] = [['wait-a', 'data-1']];
await seedPvcs(world, pvcs, { files: 20 });
destinationNamespaces(world, pvcs);

t.test('LoadBalancer without a load-balancer controller', async (t) => {
  const result = await runMigration(specFor(pvcs), { rsync_endpoint_type: 'LoadBalancer', rsync_server_ready_timeout_seconds: 10 }, clusters);
  t.equal(result.status, 'Failed');
  t.match(
    result.message,
    /LoadBalancer Service wait-a\/dvm-rsync-\w+ got no ingress address within 10s: does the destination cluster have a load-balancer controller\?/,
  );
  t.same(labelledLeft(world), []);
});

t.test('Route that no router admits', async (t) => {
  const result = await runMigration(specFor(pvcs), { rsync_endpoint_type: 'Route', rsync_server_ready_timeout_seconds: 10 }, clusters);
  t.equal(result.status, 'Failed');
  t.match(result.message, /Route wait-a\/dvm-\w+ was not admitted by any router within 10s/);
  t.same(labelledLeft(world), []);
});

t.test('Route on plain Kubernetes is refused before anything is created', async (t) => {
  const plain = await startFakeCluster({ name: 'plain', openshift: false });
  t.teardown(() => plain.close());
  plain.seed({ kind: 'Namespace', metadata: { name: 'wait-a' } });
  const before = writeCount(world);
  const mixed = connectClusters({ source: { kubeconfig: world.mergedKubeconfig, context: 'source' }, destination: { kubeconfig: plain.kubeconfigPath } });
  const error = await runMigration(specFor(pvcs), { rsync_endpoint_type: 'Route' }, mixed).catch((caught: unknown) => caught);
  t.type(error, ConfigError);
  t.match((error as Error).message, /rsync_endpoint_type: Route needs OpenShift/);
  t.equal(writeCount(world) + plain.writes().length, before, 'no writes');
});
