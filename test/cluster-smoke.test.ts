// The real test cluster (test/cluster/up.sh) does what the project relies on: pods run and their logs
// come through the API, Pod Security `restricted` is enforced, Service names resolve through the
// cluster DNS (in a pod and from the host), the API server's pod proxy reaches a pod's websocket,
// Routes are admitted and routed by SNI, LoadBalancer Services get an address that works, and the
// default StorageClass binds PVCs to host directories that honour fsGroup and go away on delete.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import WebSocket from 'ws';
import {
  CLUSTER_NOT_UP,
  probePod,
  RESTRICTED_CONTAINER_SECURITY,
  RESTRICTED_POD_SECURITY,
  testCluster,
  uniqueName,
  type KubeObject,
} from './support/cluster.js';

const cluster = await testCluster();
if (!cluster) {
  t.plan(0, CLUSTER_NOT_UP);
} else {
  const ns = uniqueName('smoke');
  await cluster.createNamespace(ns, 'restricted');
  t.teardown(() => cluster.deleteNamespace(ns, false));
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);

  /** A TLS ClientHello for servername, as bytes (what a passthrough router reads the SNI from). */
  const clientHello = (servername: string) =>
    new Promise<Buffer>((resolve) => {
      const sink = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          resolve(Buffer.from(chunk));
          callback();
        },
      });
      tlsConnect({ socket: sink, servername }).on('error', () => {});
    });

  /** Connects, optionally sends first, and returns all it got until the server closed (or 5 s). */
  const exchange = (host: string, port: number, send?: Buffer) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        if (send) socket.write(send);
      });
      let got = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        got += chunk;
      });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy());
    });

  // One server pod for the network checks: an HTTP/websocket server on 8080, a banner on 9090.
  const server: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: {
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      securityContext: RESTRICTED_POD_SECURITY,
      containers: [
        {
          name: 'http',
          image: cluster.probeImage,
          imagePullPolicy: 'IfNotPresent',
          args: ['http', '8080', 'hello-through-the-pod-proxy'],
          ports: [{ name: 'http', containerPort: 8080 }],
          securityContext: RESTRICTED_CONTAINER_SECURITY,
        },
        {
          name: 'banner',
          image: cluster.probeImage,
          imagePullPolicy: 'IfNotPresent',
          args: ['serve', '9090', 'banner-from-web'],
          ports: [{ name: 'banner', containerPort: 9090 }],
          securityContext: RESTRICTED_CONTAINER_SECURITY,
        },
      ],
    },
  };
  await cluster.apply(
    [
      server,
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web' },
        spec: {
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 'http' },
            { name: 'banner', port: 2222, targetPort: 'banner' },
          ],
        },
      },
    ],
    ns,
  );
  await cluster.kubectl(['wait', '-n', ns, '--for=condition=Ready', 'pod/web', '--timeout=60s'], { timeoutMs: 70_000 });
  const service = await cluster.kubectlJson(['get', 'service', 'web', '-n', ns]);
  const clusterIp = service.spec.clusterIP as string;

  t.test('a pod runs on the Ready node and its log comes through the API', async (t) => {
    await cluster.apply(probePod(cluster, 'hello', ['echo', 'hello from the dvm smoke test', '--', 'id']), ns);
    t.equal(await cluster.waitForPodPhase(ns, 'hello', ['Succeeded', 'Failed']), 'Succeeded');
    const pod = await cluster.kubectlJson(['get', 'pod', 'hello', '-n', ns]);
    t.equal(pod.spec.nodeName, cluster.nodeName);
    const log = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedPodLog({ name: 'hello', namespace: ns });
    t.match(log, /hello from the dvm smoke test/);
    t.match(log, /uid=65534 gid=65534/);
  });

  t.test('Pod Security restricted refuses a privileged pod', async (t) => {
    const privileged = probePod(cluster, 'privileged', ['sleep', '1']);
    privileged.spec.containers[0].securityContext = { privileged: true };
    await t.rejects(cluster.apply(privileged, ns), /violates PodSecurity "restricted:latest".*privileged/);
    const pods = await cluster.kubectl(['get', 'pods', '-n', ns, '-o', 'name']);
    t.notMatch(pods, /pod\/privileged/);
  });

  t.test('cluster DNS resolves Services in a pod and from the host, and the apps wildcard', async (t) => {
    for (const name of [`web.${ns}.svc`, `web.${ns}.svc.${cluster.clusterDomain}`]) {
      t.same(await cluster.resolve(name), [clusterIp], `host: ${name}`);
    }
    t.same(await cluster.resolve(`anything-${ns}.${cluster.appsDomain}`), [cluster.routerAddress], 'host: the apps wildcard');
    await t.rejects(cluster.resolve(`nothere.${ns}.svc`), /ENOTFOUND/, 'an unknown Service is NXDOMAIN');
    await cluster.apply(
      probePod(cluster, 'dns', [
        'resolve',
        'web',
        '--',
        'resolve',
        `web.${ns}.svc`,
        '--',
        'resolve',
        `web.${ns}.svc.`,
        '--',
        'resolve',
        `route-${ns}.${cluster.appsDomain}`,
        '--',
        'connect',
        'web',
        '2222',
      ]),
      ns,
    );
    t.equal(await cluster.waitForPodPhase(ns, 'dns', ['Succeeded', 'Failed']), 'Succeeded');
    const log = await cluster.kubectl(['logs', '-n', ns, 'dns']);
    t.match(log, `web web.${ns}.svc.${cluster.clusterDomain} ${clusterIp}`, 'a short name through the search list');
    t.match(log, `web.${ns}.svc web.${ns}.svc.${cluster.clusterDomain} ${clusterIp}`, 'ndots:5: the search list first');
    t.match(log, `web.${ns}.svc. web.${ns}.svc ${clusterIp}`, '<svc>.<ns>.svc itself');
    t.match(log, `route-${ns}.${cluster.appsDomain} route-${ns}.${cluster.appsDomain} ${cluster.routerAddress}`);
    t.match(log, `connected ${clusterIp}:2222\nbanner-from-web`, 'and the Service answers through kube-proxy');
  });

  t.test('the API server pod proxy reaches a pod over HTTP and websocket', async (t) => {
    const body = await cluster.kubectl(['get', '--raw', `/api/v1/namespaces/${ns}/pods/web:8080/proxy/`]);
    t.equal(body, 'hello-through-the-pod-proxy');
    const options: WebSocket.ClientOptions = {};
    await kc.applyToHTTPSOptions(options);
    const url = `${kc.getCurrentCluster()!.server.replace(/^http/, 'ws')}/api/v1/namespaces/${ns}/pods/web:8080/proxy/progress`;
    const message = await new Promise<string>((resolve, reject) => {
      const socket = new WebSocket(url, { ...options, handshakeTimeout: 10_000 });
      socket.once('message', (data) => resolve(String(data)));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
      socket.once('error', reject);
    });
    t.equal(message, 'hello-through-the-pod-proxy');
  });

  t.test('a passthrough Route is admitted and routed by SNI', async (t) => {
    await cluster.apply(
      {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: 'web' },
        spec: { to: { kind: 'Service', name: 'web' }, port: { targetPort: 'banner' }, tls: { termination: 'passthrough' } },
      },
      ns,
    );
    const host = `web-${ns}.${cluster.appsDomain}`;
    let route: KubeObject = {};
    for (let i = 0; i < 80; i++) {
      route = await cluster.kubectlJson(['get', 'route', 'web', '-n', ns]);
      if (route.status?.ingress?.[0]?.conditions?.[0]?.status === 'True') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    t.equal(route.spec.host, host, 'the host defaults to <name>-<namespace>.<apps domain>');
    t.match(route.status.ingress[0], { host, routerName: 'dvm-router', conditions: [{ type: 'Admitted', status: 'True' }] });
    t.equal(await exchange(cluster.routerAddress, cluster.routerPort, await clientHello(host)), 'banner-from-web\n');
    t.equal(await exchange(cluster.routerAddress, cluster.routerPort, await clientHello(`other.${cluster.appsDomain}`)), '', 'an unknown host gets nothing');
    await cluster.apply(
      {
        apiVersion: 'route.openshift.io/v1',
        kind: 'Route',
        metadata: { name: 'edge' },
        spec: { to: { kind: 'Service', name: 'web' }, tls: { termination: 'edge' } },
      },
      ns,
    );
    for (let i = 0; i < 80; i++) {
      route = await cluster.kubectlJson(['get', 'route', 'edge', '-n', ns]);
      if (route.status?.ingress?.[0]) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    t.match(route.status.ingress[0].conditions[0], { type: 'Admitted', status: 'False' }, 'other terminations are refused, not silently broken');
  });

  t.test('a LoadBalancer Service gets a bridge address that serves it', async (t) => {
    await cluster.apply(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web-lb' },
        spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ name: 'banner', port: 2223, targetPort: 'banner' }] },
      },
      ns,
    );
    let ip: string | undefined;
    for (let i = 0; i < 80 && !ip; i++) {
      ip = (await cluster.kubectlJson(['get', 'service', 'web-lb', '-n', ns])).status?.loadBalancer?.ingress?.[0]?.ip;
      if (!ip) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    t.ok(ip, 'an ingress address');
    let got = '';
    for (let i = 0; i < 20 && got === ''; i++) {
      got = await exchange(ip!, 2223).catch(() => '');
      if (!got) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    t.equal(got, 'banner-from-web\n');
  });

  t.test('the default StorageClass binds a PVC to a host directory that honours fsGroup', async (t) => {
    await cluster.apply(
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
      ns,
    );
    const { volumeName, hostPath } = await cluster.waitForPvcBound(ns, 'data');
    const pvc = await cluster.kubectlJson(['get', 'pvc', 'data', '-n', ns]);
    t.equal(pvc.spec.storageClassName, cluster.storageClass, 'the default class');
    t.ok(hostPath.startsWith(`${cluster.volumesDir}/`), hostPath);
    writeFileSync(`${hostPath}/seed`, 'written on the host\n');
    await cluster.apply(
      probePod(cluster, 'writer', ['cat', '/data/seed', '--', 'write', '/data/from-pod', 'written in the pod', '--', 'id'], {
        fsGroup: 2000,
        volumes: [{ claimName: 'data', mountPath: '/data' }],
      }),
      ns,
    );
    t.equal(await cluster.waitForPodPhase(ns, 'writer', ['Succeeded', 'Failed']), 'Succeeded');
    const log = await cluster.kubectl(['logs', '-n', ns, 'writer']);
    t.match(log, 'written on the host');
    t.match(log, /groups=.*2000/);
    t.equal(readFileSync(`${hostPath}/from-pod`, 'utf8'), 'written in the pod\n');
    t.equal(statSync(`${hostPath}/from-pod`).gid, 2000, 'the pod wrote with its fsGroup');
    t.equal(statSync(hostPath).gid, 2000, 'the kubelet applied fsGroup to the volume');
    await cluster.kubectl(['delete', 'pod', 'writer', '-n', ns, '--wait=true']);
    await cluster.kubectl(['delete', 'pvc', 'data', '-n', ns, '--wait=true']);
    for (let i = 0; i < 80 && existsSync(hostPath); i++) await new Promise((resolve) => setTimeout(resolve, 250));
    t.notOk(existsSync(hostPath), 'the directory goes with the PVC');
    await t.rejects(cluster.kubectl(['get', 'pv', volumeName]), /NotFound/, 'and so does the PV');
  });
}
