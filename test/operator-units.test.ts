// The parts of `dvm controller` that need no cluster: the status-write throttle, the DVMP status
// (monotonic over a floor), MTC's text formats, parsing a DirectVolumeMigration, refusing kubeconfig
// Secrets that run commands or read files, and leader election against an in-memory Lease API with
// the API server's optimistic concurrency.
import * as k8s from '@kubernetes/client-node';
import pino from 'pino';
import t from 'tap';
import { stringify as toYaml } from 'yaml';
import type { Cluster } from '../controller/cluster/connection.js';
import { ClusterRefError, connectDvmClusters } from '../controller/operator/cluster-refs.js';
import { InvalidSpecError, parseDvm } from '../controller/operator/dvm-spec.js';
import { startLeaderElection } from '../controller/operator/lease.js';
import type { DirectVolumeMigration } from '../controller/operator/resources.js';
import { goDuration, mtcRate, progressStatus, withCondition } from '../controller/operator/status-model.js';
import { ThrottledWriter } from '../controller/operator/throttle.js';
import { pendingPvc, type PvcState } from '../controller/progress/pvc-state.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const silent = pino({ level: 'silent' });

t.test('throttle: one write per interval, the newest value wins, flush waits for it', async (t) => {
  const written: Array<{ value: number; at: number }> = [];
  const writer = new ThrottledWriter<number>(
    async (value) => {
      written.push({ value, at: Date.now() });
    },
    { intervalMs: 200, onError: () => undefined },
  );
  const started = Date.now();
  for (let value = 1; value <= 50; value += 1) {
    writer.set(value);
    await sleep(10);
  }
  await writer.flush();
  // Bounded by the time the loop really took, not the 500 ms it takes on an idle machine (CI: 0.83 s, 5 writes).
  const bound = 1 + Math.ceil((Date.now() - started) / 200);
  t.equal(written.at(-1)?.value, 50, 'the last value was written');
  t.ok(written.length <= bound, `${written.length} writes for 50 values, at most ${bound} in the time they took`);
  const gaps = written.slice(1).map((write, index) => write.at - written[index]!.at);
  t.ok(
    gaps.every((gap) => gap >= 195),
    `writes at least 200 ms apart (${gaps.join(', ')})`,
  );
  t.same(
    written.map((write) => write.value),
    [...written.map((write) => write.value)].sort((a, b) => a - b),
    'in order',
  );
});

t.test('throttle: a failed write is retried, then given up so flush cannot hang', async (t) => {
  let calls = 0;
  const errors: unknown[] = [];
  const writer = new ThrottledWriter<string>(
    async () => {
      calls += 1;
      throw new Error('gone');
    },
    { intervalMs: 5, onError: (error) => errors.push(error) },
  );
  writer.set('x');
  await writer.flush();
  t.equal(calls, 5, 'five tries');
  t.equal(errors.length, 5);
});

function state(fields: Partial<PvcState>): PvcState {
  return { ...pendingPvc('src/data', 0), ...fields };
}

t.test('DVMP status: percent and bytes never below what the resource said; MTC text', async (t) => {
  const floor = { progressPercent: 45.5, transferredBytes: 4000, podName: 'old-pod', podPhase: 'Running' };
  const resumed = progressStatus(
    state({ state: 'Running', percent: 10, bytes: 1000, totalBytes: 9000, rateBps: 12_340_000, attempt: 1 }),
    undefined,
    floor,
    3,
    new Date(0),
  );
  t.equal(resumed.progressPercent, 45.5, 'percent held at the floor');
  t.equal(resumed.transferredBytes, 4000, 'bytes held at the floor');
  t.equal(resumed.totalProgressPercentage, '45%');
  t.equal(resumed.lastObservedTransferRate, '12.34MB/s');
  t.equal(resumed.podName, 'old-pod', 'the earlier pod until a new one is seen');
  const ahead = progressStatus(
    state({ state: 'Succeeded', percent: 100, bytes: 9000, durationMs: 62_000, verified: true }),
    { name: 'new-pod', namespace: 'src', state: 'terminated' },
    floor,
    3,
    new Date(0),
  );
  t.match(ahead, {
    phase: 'Succeeded',
    podPhase: 'Succeeded',
    podName: 'new-pod',
    progressPercent: 100,
    transferredBytes: 9000,
    rsyncElapsedTime: '1m2s',
    verified: true,
    maxAttempts: 3,
  });
  t.equal(goDuration(3_600_000 + 5_500), '1h0m5.5s');
  t.equal(goDuration(900), '0.9s');
  t.equal(mtcRate(999), '999.00B/s');
});

t.test('conditions keep lastTransitionTime while their status stays', async (t) => {
  const first = withCondition([], { type: 'Running', status: 'True', category: 'Advisory', reason: 'Prepare' }, 'T1');
  const second = withCondition(first, { type: 'Running', status: 'True', category: 'Advisory', reason: 'RunRsyncOperations' }, 'T2');
  t.equal(second[0]?.lastTransitionTime, 'T1');
  t.equal(second[0]?.reason, 'RunRsyncOperations');
  t.equal(withCondition(second, { type: 'Running', status: 'False', category: 'Advisory' }, 'T3')[0]?.lastTransitionTime, 'T3');
});

function dvm(spec: Record<string, unknown>): DirectVolumeMigration {
  return { apiVersion: 'migration.openshift.io/v1alpha1', kind: 'DirectVolumeMigration', metadata: { name: 'm', namespace: 'ops', uid: 'u' }, spec };
}

t.test('parsing a DirectVolumeMigration: the spec schema of dvm migrate -f, and the cluster references', async (t) => {
  const parsed = parseDvm(dvm({ persistentVolumeClaims: [{ name: 'a', namespace: 'n' }], destMigClusterRef: { kind: 'Secret', name: 'remote' } }));
  t.same(parsed.source, { kind: 'Local' });
  t.same(parsed.destination, { kind: 'Secret', namespace: 'ops', name: 'remote', key: 'kubeconfig' });
  t.equal(parsed.spec.backOffLimit, 2, 'defaults filled in');
  const refused = (spec: Record<string, unknown>) => {
    try {
      parseDvm(dvm(spec));
      return 'accepted';
    } catch (error) {
      t.type(error, InvalidSpecError);
      return (error as Error).message;
    }
  };
  t.match(refused({ persistentVolumeClaims: [] }), /^spec\.persistentVolumeClaims: needs at least one PVC/);
  t.match(
    refused({
      persistentVolumeClaims: [
        { name: 'a', namespace: 'n' },
        { name: 'a', namespace: 'n' },
      ],
    }),
    /^spec\.persistentVolumeClaims\.1\.name: duplicate source PVC n\/a/,
  );
  t.match(refused({ persistentVolumeClaims: [{ name: 'a', namespace: 'n' }], migrationType: 'Final' }), /^spec\.migrationType:/);
  t.match(
    refused({ persistentVolumeClaims: [{ name: 'a', namespace: 'n' }], srcMigClusterRef: { kind: 'MigCluster', name: 'host' } }),
    /^spec\.srcMigClusterRef\.kind: MigCluster is not supported/,
  );
  t.match(
    refused({ persistentVolumeClaims: [{ name: 'a', namespace: 'n' }], srcMigClusterRef: { kind: 'Secret', name: 's', namespace: 'other' } }),
    /^spec\.srcMigClusterRef\.namespace: the kubeconfig Secret must be in/,
  );
});

function fakeLocal(secrets: Record<string, string>): Cluster {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    role: 'source',
    kc,
    server: 'https://127.0.0.1:1',
    core: {
      readNamespacedSecret: async ({ name }: { name: string }) => {
        if (!(name in secrets)) throw Object.assign(new Error('not found'), { code: 404, body: '{}', headers: {} });
        return { data: { kubeconfig: Buffer.from(secrets[name]!).toString('base64') } };
      },
    },
  } as unknown as Cluster;
}

function kubeconfigWith(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'x',
    clusters: [{ name: 'c', cluster: { server: 'https://203.0.113.5:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  });
}

t.test('kubeconfig Secrets: inline credentials only; errors name the field, never the content', async (t) => {
  const secrets = {
    ok: kubeconfigWith({ token: 'inline-token-value' }),
    exec: kubeconfigWith({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', 'id'] } }),
    tokenFile: kubeconfigWith({ 'token-file': '/var/run/secrets/kubernetes.io/serviceaccount/token' }),
    certFile: kubeconfigWith({ 'client-certificate': '/etc/x.crt', 'client-key': '/etc/x.key' }),
    caFile: kubeconfigWith({ token: 'x' }, { 'certificate-authority': '/etc/ca.crt' }),
    garbage: 'users: [ {{ secret-token-AAAA',
  };
  const local = fakeLocal(secrets);
  const connected = await connectDvmClusters(local, {
    source: { kind: 'Local' },
    destination: { kind: 'Secret', namespace: 'ops', name: 'ok', key: 'kubeconfig' },
  });
  t.equal(connected.destination.server, 'https://203.0.113.5:6443');
  t.equal(connected.source.server, 'https://127.0.0.1:1');
  const refusal = async (name: string) => {
    try {
      await connectDvmClusters(local, { source: { kind: 'Local' }, destination: { kind: 'Secret', namespace: 'ops', name, key: 'kubeconfig' } });
      return 'accepted';
    } catch (error) {
      t.type(error, ClusterRefError);
      return (error as Error).message;
    }
  };
  t.match(await refusal('exec'), /users\[\]\.user\.exec is not allowed/);
  t.match(await refusal('tokenFile'), /users\[\]\.user\.token-file is not allowed/);
  t.match(await refusal('certFile'), /users\[\]\.user\.client-certificate is not allowed/);
  t.match(await refusal('caFile'), /clusters\[\]\.cluster\.certificate-authority is not allowed/);
  const garbage = await refusal('garbage');
  t.match(garbage, /^spec\.destMigClusterRef: Secret ops\/garbage key kubeconfig: not a valid kubeconfig$/);
  t.notMatch(garbage, /secret-token/, 'the content is not quoted');
  t.match(await refusal('missing'), /Secret ops\/missing not found/);
});

/** A Lease API with resourceVersion checks, like the API server's. */
function leaseApi(): { api: k8s.CoordinationV1Api; lease: () => k8s.V1Lease | undefined; failFor: Set<string> } {
  let stored: k8s.V1Lease | undefined;
  let version = 0;
  const failFor = new Set<string>();
  const conflict = () => Object.assign(new Error('conflict'), { code: 409, body: '{}', headers: {} });
  const copy = (lease: k8s.V1Lease) => JSON.parse(JSON.stringify(lease)) as k8s.V1Lease;
  const api = {
    readNamespacedLease: async () => {
      if (!stored) throw Object.assign(new Error('not found'), { code: 404, body: '{}', headers: {} });
      return copy(stored);
    },
    createNamespacedLease: async ({ body }: { body: k8s.V1Lease }) => {
      if (stored) throw conflict();
      stored = { ...copy(body), metadata: { ...body.metadata, resourceVersion: String(++version) } };
      return copy(stored);
    },
    replaceNamespacedLease: async ({ body }: { body: k8s.V1Lease }) => {
      if (failFor.has(body.spec?.holderIdentity ?? '')) throw Object.assign(new Error('unavailable'), { code: 503, body: '{}', headers: {} });
      if (!stored || body.metadata?.resourceVersion !== stored.metadata?.resourceVersion) throw conflict();
      stored = { ...copy(body), metadata: { ...body.metadata, resourceVersion: String(++version) } };
      return copy(stored);
    },
  } as unknown as k8s.CoordinationV1Api;
  return { api, lease: () => stored, failFor };
}

t.test('leader election: one leader; a silent leader is replaced after the lease duration; stop() hands over at once', async (t) => {
  const { api, lease, failFor } = leaseApi();
  const timing = { leaseDurationMs: 400, renewDeadlineMs: 250, retryPeriodMs: 50 };
  const events: string[] = [];
  const elect = (identity: string) =>
    startLeaderElection({
      coordination: api,
      namespace: 'ops',
      name: 'dvm',
      identity,
      ...timing,
      log: silent,
      onStartedLeading: () => events.push(`${identity} leads`),
      onStoppedLeading: () => events.push(`${identity} lost`),
    });
  const a = elect('a');
  await sleep(100);
  const b = elect('b');
  await sleep(600);
  t.same(events, ['a leads'], 'one leader while it renews');
  t.equal(lease()?.spec?.holderIdentity, 'a');
  // a cannot write any more (a partition): it gives up after the renew deadline, b after the duration.
  failFor.add('a');
  const cutAt = Date.now();
  while (!events.includes('b leads') && Date.now() - cutAt < 3000) await sleep(20);
  t.same(events, ['a leads', 'a lost', 'b leads'], 'a stepped down before b took over');
  t.ok(Date.now() - cutAt >= timing.leaseDurationMs, `b waited the lease duration (${Date.now() - cutAt} ms)`);
  t.equal(lease()?.spec?.leaseTransitions, 1);
  await a.stop();
  const c = elect('c');
  await b.stop();
  const stoppedAt = Date.now();
  while (!events.includes('c leads') && Date.now() - stoppedAt < 3000) await sleep(20);
  t.ok(Date.now() - stoppedAt < timing.leaseDurationMs, `a released Lease is taken at once (${Date.now() - stoppedAt} ms)`);
  await c.stop();
});
