// The fake API server speaks the REST the real one does, as @kubernetes/client-node 1.x uses it:
// if these pass, the controller's end-to-end tests exercise real client code paths.
import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import { WebSocketServer } from 'ws';
import { connectCluster } from '../controller/cluster/connection.js';
import { openPodProxyWebSocket, PodProxyRefusedError } from '../controller/cluster/pod-proxy.js';
import { followPodLog } from '../controller/cluster/pod-log.js';
import { startFakeCluster } from './support/fake-apiserver/index.js';
import { kindByName } from './support/fake-apiserver/kinds.js';

const cluster = await startFakeCluster({ name: 'conformance' });
t.teardown(() => cluster.close());
const kc = new k8s.KubeConfig();
kc.loadFromFile(cluster.kubeconfigPath);
const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
const core = kc.makeApiClient(k8s.CoreV1Api);
const codeOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => 200,
    (error: { code?: number }) => error.code,
  );

await objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns1' } });

t.test('create, read, conflict, missing namespace, invalid label', async (t) => {
  const created = await objects.create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c1', namespace: 'ns1', labels: { tier: 'a' } },
    data: { k: 'v' },
  } as k8s.V1ConfigMap);
  t.ok(created.metadata?.uid);
  t.ok(created.metadata?.resourceVersion);
  const read = (await objects.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'ns1' } })) as k8s.V1ConfigMap;
  t.same(read.data, { k: 'v' });
  t.equal(await codeOf(objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'ns1' } })), 409);
  t.equal(await codeOf(objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'nope' } })), 404);
  t.equal(
    await codeOf(objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c2', namespace: 'ns1', labels: { bad: 'x'.repeat(64) } } })),
    422,
  );
  t.equal(await codeOf(objects.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'zz', namespace: 'ns1' } })), 404);
});

t.test('label selectors, field selectors and deletecollection', async (t) => {
  for (const [name, tier] of [
    ['s1', 'a'],
    ['s2', 'b'],
    ['s3', 'c'],
  ] as const) {
    await core.createNamespacedSecret({ namespace: 'ns1', body: { metadata: { name, labels: { app: 'x', tier } } } });
  }
  const names = async (labelSelector?: string, fieldSelector?: string) =>
    (await core.listNamespacedSecret({ namespace: 'ns1', ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) })).items
      .map((item) => item.metadata?.name)
      .sort();
  t.same(await names('app=x,tier in (a,b)'), ['s1', 's2']);
  t.same(await names('app=x,tier notin (a)'), ['s2', 's3']);
  t.same(await names('tier!=c,app'), ['s1', 's2']);
  t.same(await names('!app'), []);
  t.same(await names(undefined, 'metadata.name=s3'), ['s3']);
  await core.deleteCollectionNamespacedSecret({ namespace: 'ns1', labelSelector: 'tier in (a,c)' });
  t.same(await names('app=x'), ['s2']);
  const everywhere = await core.listSecretForAllNamespaces({ labelSelector: 'app=x' });
  t.equal(everywhere.items.length, 1, 'cluster-wide list');
});

t.test('patch: merge, strategic merge, json patch; status is a subresource', async (t) => {
  await objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p1', namespace: 'ns1' }, data: { a: '1', b: '2' } } as k8s.V1ConfigMap);
  const target = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p1', namespace: 'ns1' } };
  await objects.patch(
    { ...target, data: { a: null, c: '3' } } as unknown as k8s.V1ConfigMap,
    undefined,
    undefined,
    undefined,
    undefined,
    k8s.PatchStrategy.MergePatch,
  );
  await objects.patch({ ...target, data: { d: '4' } } as k8s.V1ConfigMap, undefined, undefined, undefined, undefined, k8s.PatchStrategy.StrategicMergePatch);
  const read = (await objects.read(target)) as k8s.V1ConfigMap;
  t.same(read.data, { b: '2', c: '3', d: '4' });
  await core.createNamespacedPod({ namespace: 'ns1', body: { metadata: { name: 'pod1' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  const pod = await core.readNamespacedPod({ namespace: 'ns1', name: 'pod1' });
  t.equal(pod.status?.phase, 'Pending', 'a new pod is Pending');
  await core.replaceNamespacedPod({ namespace: 'ns1', name: 'pod1', body: { ...pod, status: { phase: 'Running' } } });
  t.equal((await core.readNamespacedPod({ namespace: 'ns1', name: 'pod1' })).status?.phase, 'Pending', 'the main resource ignores status');
  const stale = await codeOf(core.replaceNamespacedPodStatus({ namespace: 'ns1', name: 'pod1', body: { ...pod, status: { phase: 'Running' } } }));
  t.equal(stale, 409, 'a stale resourceVersion is a conflict');
  const fresh = await core.readNamespacedPod({ namespace: 'ns1', name: 'pod1' });
  await core.replaceNamespacedPodStatus({ namespace: 'ns1', name: 'pod1', body: { ...fresh, status: { phase: 'Running' } } });
  t.equal((await core.readNamespacedPod({ namespace: 'ns1', name: 'pod1' })).status?.phase, 'Running', 'the status subresource sets it');
});

t.test('watch: initial state, live events, resume from a resourceVersion, selector exits', async (t) => {
  const seen: string[] = [];
  const list = await core.listNamespacedService({ namespace: 'ns1' });
  const controller = await new k8s.Watch(kc).watch(
    '/api/v1/namespaces/ns1/services',
    { labelSelector: 'w=1', resourceVersion: list.metadata?.resourceVersion },
    (type, object) => seen.push(`${type} ${object.metadata.name}`),
    () => undefined,
  );
  await core.createNamespacedService({ namespace: 'ns1', body: { metadata: { name: 'svc1', labels: { w: '1' } }, spec: { ports: [{ port: 80 }] } } });
  await core.createNamespacedService({ namespace: 'ns1', body: { metadata: { name: 'svc2', labels: { w: '2' } }, spec: { ports: [{ port: 80 }] } } });
  await objects.patch(
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: 'ns1', labels: { w: '3' } } },
    undefined,
    undefined,
    undefined,
    undefined,
    k8s.PatchStrategy.MergePatch,
  );
  await core.deleteNamespacedService({ namespace: 'ns1', name: 'svc2' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  controller.abort();
  t.same(seen, ['ADDED svc1', 'DELETED svc1'], 'leaving the selector is a DELETED');
  const service = await core.readNamespacedService({ namespace: 'ns1', name: 'svc1' });
  t.match(service.spec?.clusterIP, new RegExp(`^${cluster.network.base.replaceAll('.', '\\.')}\\.`), 'a cluster IP was allocated');
});

t.test('pod logs follow until the container ends', async (t) => {
  const lines: string[] = [];
  const clusterHandle = connectCluster({ kubeconfig: cluster.kubeconfigPath }, 'source');
  await core.createNamespacedPod({ namespace: 'ns1', body: { metadata: { name: 'logger' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  const refused = await codeOf(new k8s.Log(kc).log('ns1', 'logger', 'c', new PassThrough(), { follow: true }));
  t.equal(refused, 400, 'no log before the container starts');
  cluster.api.logs.start('ns1', 'logger');
  cluster.api.logs.append('ns1', 'logger', Buffer.from('one\ntw'));
  const follower = await followPodLog(clusterHandle, 'ns1', 'logger', 'c', (line) => lines.push(line));
  cluster.api.logs.append('ns1', 'logger', Buffer.from('o\nthree\n'));
  setTimeout(() => cluster.api.logs.end('ns1', 'logger'), 100);
  await follower.ended;
  t.same(lines, ['one', 'two', 'three']);
});

t.test('pod proxy: HTTP and websocket upgrade to the pod IP; refusal is a clear status', async (t) => {
  const http = createServer((request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${request.url}`));
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (socket, request) => socket.send(`ws ${request.url}`));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    wss.close();
    http.close();
  });
  const port = (http.address() as { port: number }).port;
  await core.createNamespacedPod({
    namespace: 'ns1',
    body: { metadata: { name: 'web' }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: port }] }] } },
  });
  cluster.api.store.mutate(kindByName('Pod'), 'ns1', 'web', (pod) => {
    pod.status = { phase: 'Running', podIP: '127.0.0.1' };
  });
  const text = await core.connectGetNamespacedPodProxyWithPath({ namespace: 'ns1', name: `web:${port}`, path: 'some/path' });
  t.equal(text, 'hello /some/path');
  const handle = connectCluster({ kubeconfig: cluster.kubeconfigPath }, 'source');
  let received!: (text: string) => void;
  const first = new Promise<string>((resolve) => {
    received = resolve;
  });
  const socket = await openPodProxyWebSocket(handle, 'ns1', 'web', port, '/progress', (data) => received(data.toString()));
  const message = await first;
  socket.close();
  t.equal(message, 'ws /progress');
  cluster.setRefusePodProxy(true);
  const error = await openPodProxyWebSocket(handle, 'ns1', 'web', port, '/progress', () => undefined).catch((caught: unknown) => caught);
  t.type(error, PodProxyRefusedError);
  t.equal((error as PodProxyRefusedError).statusCode, 403);
  cluster.setRefusePodProxy(false);
});

t.test('discovery and OpenShift groups', async (t) => {
  const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
  t.ok(groups.groups.some((group) => group.name === 'route.openshift.io'));
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const ingress = (await custom.getClusterCustomObject({ group: 'config.openshift.io', version: 'v1', plural: 'ingresses', name: 'cluster' })) as {
    spec: { domain: string };
  };
  t.equal(ingress.spec.domain, cluster.routeDomain);
  const route = (await objects.create({
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name: 'r1', namespace: 'ns1' },
    spec: { to: { kind: 'Service', name: 's' } },
  } as k8s.KubernetesObject)) as { spec: { host: string } };
  t.equal(route.spec.host, `r1-ns1.${cluster.routeDomain}`, 'default host');
  const plain = await startFakeCluster({ name: 'plain', openshift: false });
  t.teardown(() => plain.close());
  const plainKc = new k8s.KubeConfig();
  plainKc.loadFromFile(plain.kubeconfigPath);
  const plainGroups = await plainKc.makeApiClient(k8s.ApisApi).getAPIVersions();
  t.notOk(
    plainGroups.groups.some((group) => group.name === 'route.openshift.io'),
    'plain Kubernetes serves no Routes',
  );
});

t.test('every write is recorded', async (t) => {
  const writes = cluster.writes();
  t.ok(writes.length > 10);
  t.ok(writes.every((write) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(write.method)));
  t.ok(
    writes.some((write) => write.method === 'DELETE' && write.kind === 'Secret' && write.name === undefined),
    'deletecollection',
  );
});
