// The migration's decisions, without clusters: which node a client is pinned to, when a pod is worth
// retrying, what counts as success, how many clients run at once.
import t from 'tap';
import { finalResult, worthAnotherPod } from '../controller/migration/client-run.js';
import { nodePins } from '../controller/migration/node-pins.js';
import { runPooled } from '../controller/migration/pool.js';
import { pendingReason, resultFromTerminationMessage, stuckReason } from '../controller/migration/pod-state.js';
import { parseAgentEvent } from '../contract/events.js';

const appPod = (name: string, claim: string, node: string, phase = 'Running', labels: Record<string, string> = {}) => ({
  metadata: { name, namespace: 'ns', labels },
  spec: { nodeName: node, volumes: [{ name: 'v', persistentVolumeClaim: { claimName: claim } }] },
  status: { phase },
});

t.test('node pins: RWO PVCs follow the running pod that mounts them', async (t) => {
  const pods = [
    appPod('db-0', 'data-rwo', 'node-a'),
    appPod('old', 'data-rwo', 'node-z', 'Succeeded'),
    appPod('ours', 'data-rwx', 'node-b', 'Running', { app: 'directvolumemigration-rsync-transfer' }),
    appPod('web', 'data-rwx', 'node-c'),
    appPod('solo', 'data-rwop', 'node-d'),
  ];
  const result = nodePins(pods, [
    { key: 'ns/data-rwo', namespace: 'ns', claimName: 'data-rwo', accessModes: ['ReadWriteOnce'] },
    { key: 'ns/data-rwx', namespace: 'ns', claimName: 'data-rwx', accessModes: ['ReadWriteMany'] },
    { key: 'ns/data-idle', namespace: 'ns', claimName: 'data-idle', accessModes: ['ReadWriteOnce'] },
    { key: 'ns/data-rwop', namespace: 'ns', claimName: 'data-rwop', accessModes: ['ReadWriteOncePod'] },
  ]);
  t.same(result.pins, { 'ns/data-rwo': 'node-a' }, "only the RWO PVC in use is pinned, to the running pod's node");
  t.same(result.exclusiveInUse, [{ key: 'ns/data-rwop', pod: 'ns/solo' }]);
});

const result = (status: string, pvc = 'ns/a') =>
  JSON.stringify({
    type: 'result',
    pvc,
    status,
    exitCode: status === 'Succeeded' ? 0 : 23,
    bytes: 10,
    files: 2,
    durationMs: 5,
    verified: null,
    attempts: 1,
    message: 'm',
  });

t.test('completion comes from the exit code and the termination message, never a log ending', async (t) => {
  const terminated = (exitCode: number, message?: string, reason?: string) => ({
    kind: 'terminated' as const,
    pod: {},
    terminated: { exitCode, ...(message ? { message } : {}), ...(reason ? { reason } : {}) },
  });
  t.equal(finalResult('ns/a', terminated(0, result('Succeeded')), Date.now(), 1).status, 'Succeeded');
  t.equal(finalResult('ns/a', terminated(0), Date.now(), 1).status, 'Failed', 'exit 0 without a result is not success');
  t.equal(finalResult('ns/a', terminated(1, result('Succeeded')), Date.now(), 1).status, 'Failed', 'a non-zero exit overrides a Succeeded result');
  t.equal(finalResult('ns/a', terminated(0, result('Succeeded', 'ns/other')), Date.now(), 1).status, 'Failed', 'a result for another PVC does not count');
  t.equal(finalResult('ns/a', terminated(23, result('Failed')), Date.now(), 1).exitCode, 23);
  t.equal(finalResult('ns/a', { kind: 'lost', message: 'evicted' }, Date.now(), 0).message, 'evicted');

  t.ok(worthAnotherPod({ kind: 'lost', message: 'deleted' }, 'ns/a'), 'a lost pod gets another');
  t.ok(worthAnotherPod(terminated(137, undefined, 'OOMKilled'), 'ns/a'), 'an OOM-killed pod gets another');
  t.notOk(worthAnotherPod(terminated(23, result('Failed')), 'ns/a'), 'a result is final');
  t.notOk(worthAnotherPod(terminated(1), 'ns/a'), 'an agent that exits on its own is final');
  t.notOk(worthAnotherPod({ kind: 'stuck', message: 'ImagePullBackOff' }, 'ns/a'));
  t.equal(resultFromTerminationMessage('not json', 'ns/a'), undefined);
});

t.test('stuck pods are recognised', async (t) => {
  t.match(
    stuckReason({ status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff', message: 'no such image' } } }] } }),
    /ImagePullBackOff: no such image/,
  );
  const unschedulable = {
    status: {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' }],
    },
  };
  t.equal(stuckReason(unschedulable), undefined, 'a full node is waited for, not a failure');
  t.match(pendingReason(unschedulable), /Unschedulable: 0\/1 nodes are available: 1 Insufficient cpu/, 'but named when the start timeout runs out');
  const crashing = {
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } },
          lastState: { terminated: { exitCode: 1, message: 'line 1\nline 2\ncannot read agent config /etc/dvm/config/agent.yaml: EACCES' } },
        },
      ],
    },
  };
  t.match(
    stuckReason(crashing),
    /CrashLoopBackOff: back-off 10s; last exit code 1: .*cannot read agent config .*EACCES/,
    'a crash loop says how the container last ended',
  );
  t.equal(stuckReason({ status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ContainerCreating' } } }] } }), undefined);
});

t.test('agent events are picked out of log lines', async (t) => {
  t.same(parseAgentEvent(result('Succeeded'))?.type, 'result');
  t.equal(parseAgentEvent('{"level":30,"msg":"listening"}'), undefined, 'pino lines are not events');
  t.equal(parseAgentEvent('plain text'), undefined);
});

t.test('the pool runs at most N at once, and waits for all when one fails', async (t) => {
  let running = 0;
  let peak = 0;
  const results = await runPooled(
    [1, 2, 3, 4, 5, 6],
    2,
    async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 10));
      running -= 1;
      return n * 2;
    },
    () => undefined,
  );
  t.same(results, [2, 4, 6, 8, 10, 12]);
  t.equal(peak, 2);
  let aborted = 0;
  let settled = 0;
  const failing = runPooled(
    [1, 2, 3],
    3,
    async (n) => {
      await new Promise((resolve) => setTimeout(resolve, n * 10));
      settled += 1;
      if (n === 1) throw new Error('boom');
      return n;
    },
    () => {
      aborted += 1;
    },
  );
  await t.rejects(failing, /boom/);
  t.equal(aborted, 1);
  t.equal(settled, 3, 'every started task settled before the pool rejected');
});
