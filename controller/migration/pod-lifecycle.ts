// Following one client pod from creation to its end with a single watch: tells the caller when it
// runs (to attach the progress stream) and how it ended (terminated, lost, or stuck).
import type { Cluster } from '../cluster/connection.js';
import { POD_KIND } from '../cluster/kinds.js';
import type { Obj } from '../cluster/objects.js';
import { AbortedError, watchObjects } from '../cluster/watch.js';
import { pendingReason, stuckReason, terminatedState, type Terminated } from './pod-state.js';

export type PodEnd = { kind: 'terminated'; terminated: Terminated; pod: Obj } | { kind: 'lost'; message: string } | { kind: 'stuck'; message: string };

export interface PodWatchOptions {
  onRunning: (pod: Obj) => void;
  signal: AbortSignal;
  /** Until the container runs; a transfer itself may take as long as it needs. */
  startTimeoutMs: number;
}

export function followPodToEnd(cluster: Cluster, namespace: string, name: string, options: PodWatchOptions): Promise<PodEnd> {
  return new Promise<PodEnd>((resolve, reject) => {
    const createdAt = Date.now();
    let seen = false;
    let lastSeen: Obj | undefined;
    let running = false;
    let settled = false;
    const finish = (action: () => void) => {
      if (settled) return;
      settled = true;
      stop();
      clearTimeout(startTimer);
      options.signal.removeEventListener('abort', onAbort);
      action();
    };
    const onAbort = () => finish(() => reject(new AbortedError()));
    const startTimeout = () => {
      const why = pendingReason(lastSeen);
      if (!running)
        finish(() =>
          resolve({
            kind: 'stuck',
            message: `client pod ${namespace}/${name} did not start within ${Math.round(options.startTimeoutMs / 1000)}s${why ? ` (${why})` : ''}`,
          }),
        );
    };
    let startTimer = setTimeout(startTimeout, options.startTimeoutMs);
    const stop = watchObjects(
      cluster,
      { ...POD_KIND, namespace, fieldSelector: `metadata.name=${name}` },
      (pods) => {
        const pod = pods[0];
        if (!pod) {
          if (seen) finish(() => resolve({ kind: 'lost', message: `client pod ${namespace}/${name} was deleted before it finished` }));
          return;
        }
        seen = true;
        lastSeen = pod;
        if (waitsForResources(pod) && Date.now() - createdAt < options.startTimeoutMs * MAX_RESOURCE_WAITS) {
          // The node is full (more client pods than it holds at once): that frees up as other copies
          // finish, so the start clock only runs once the scheduler has a place for this one.
          clearTimeout(startTimer);
          startTimer = setTimeout(startTimeout, options.startTimeoutMs);
        }
        const terminated = terminatedState(pod);
        if (terminated && (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed')) {
          finish(() => resolve({ kind: 'terminated', terminated, pod }));
          return;
        }
        if (pod.status?.phase === 'Failed') {
          finish(() =>
            resolve({ kind: 'lost', message: `client pod ${namespace}/${name} failed: ${pod.status?.reason ?? ''} ${pod.status?.message ?? ''}`.trim() }),
          );
          return;
        }
        const stuck = stuckReason(pod);
        if (stuck) {
          finish(() => resolve({ kind: 'stuck', message: `client pod ${namespace}/${name} will not start: ${stuck}` }));
          return;
        }
        if (!running && pod.status?.phase === 'Running' && pod.status?.podIP) {
          running = true;
          options.onRunning(pod);
        }
      },
      (error) => finish(() => reject(error)),
    );
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A pod that can never fit (it asks for more than any node has) still ends, after this many start timeouts. */
const MAX_RESOURCE_WAITS = 6;

/** Unschedulable only for lack of CPU, memory or pods on the nodes, which other pods free again. */
function waitsForResources(pod: Obj): boolean {
  const condition = (pod.status?.conditions ?? []).find((entry: Obj) => entry.type === 'PodScheduled' && entry.reason === 'Unschedulable');
  return typeof condition?.message === 'string' && /Insufficient (cpu|memory|pods)|Too many pods/i.test(condition.message);
}
