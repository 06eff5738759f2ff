// One PVC's copy: its config Secret, a client pod (a new one, with the next attempt label, when a pod
// is lost without a result, up to backOffLimit), its live events, and the outcome from the pod's exit
// code plus the result event in its termination message: never from how a log ends.
import type { ResultEvent } from '../../contract/events.js';
import { createObject } from '../cluster/objects.js';
import { AbortedError } from '../cluster/watch.js';
import type { ResolvedEndpoint } from '../endpoints/index.js';
import { clientObjects } from '../manifests/render.js';
import type { ClientPlan } from '../manifests/plan.js';
import type { Preflight, RunContext } from './context.js';
import type { PodEvent, PvcSummary } from './events.js';
import { ClientProgress, type ProgressSource } from './client-progress.js';
import { followPodToEnd, type PodEnd } from './pod-lifecycle.js';
import { resultFromTerminationMessage } from './pod-state.js';

export async function runClient(context: RunContext, preflight: Preflight, endpoint: ResolvedEndpoint, client: ClientPlan): Promise<PvcSummary> {
  const startedAt = Date.now();
  const progress = new ClientProgress(context.clusters.source, client.pair.source.namespace, client.key, (event) => context.emit(event));
  let podAttempt = 0;
  let end: PodEnd | undefined;
  while (podAttempt <= context.spec.backOffLimit) {
    if (context.signal.aborted) throw new AbortedError();
    podAttempt += 1;
    end = await runClientPod(context, preflight, endpoint, client, podAttempt, progress);
    if (!worthAnotherPod(end, client.key)) break;
  }
  const result = finalResult(client.key, end!, startedAt, progress.attempts);
  context.emit(result);
  return summarize(client, result, podAttempt, progress.source);
}

/** One client pod, from creation to its end, its events forwarded as it runs. */
async function runClientPod(
  context: RunContext,
  preflight: Preflight,
  endpoint: ResolvedEndpoint,
  client: ClientPlan,
  podAttempt: number,
  progress: ClientProgress,
): Promise<PodEnd> {
  const { clusters, runId, settings, writes } = context;
  const namespace = client.pair.source.namespace;
  const objects = clientObjects(runId, client, settings, endpoint, podAttempt, preflight.nodePins[client.key]);
  if (podAttempt === 1) await createObject(clusters.source, objects.configSecret, writes, client.key);
  const created = await createObject(clusters.source, objects.pod, writes, client.key);
  const pod = created.metadata!.name!;
  const podEvent = (state: PodEvent['state'], extra: Pick<PodEvent, 'progressSource' | 'message'> = {}) =>
    context.emit({ type: 'pod', pvc: client.key, pod, podAttempt, state, ...extra });
  podEvent('created');
  const end = await followWithProgress(context, namespace, pod, progress, (source) => podEvent('running', { progressSource: source }));
  podEvent(end.kind === 'terminated' ? 'terminated' : 'lost', end.kind !== 'terminated' ? { message: end.message } : {});
  return end;
}

/** Follows the pod to its end, listening to its events while it runs, and replays them from its log
 * if it ended before any channel was up. */
async function followWithProgress(
  context: RunContext,
  namespace: string,
  pod: string,
  progress: ClientProgress,
  onSource: (source: ProgressSource) => void,
): Promise<PodEnd> {
  let end: PodEnd | undefined;
  try {
    end = await followPodToEnd(context.clusters.source, namespace, pod, {
      signal: context.signal,
      startTimeoutMs: context.timeoutMs,
      onRunning: () => progress.follow(pod, onSource),
    });
    return end;
  } finally {
    await progress.finish(pod, end);
  }
}

function summarize(client: ClientPlan, result: ResultEvent, podAttempts: number, progressSource: ProgressSource | undefined): PvcSummary {
  return {
    pvc: client.key,
    target: `${client.pair.target.namespace}/${client.pair.target.name}`,
    status: result.status,
    exitCode: result.exitCode,
    bytes: result.bytes,
    files: result.files,
    durationMs: result.durationMs,
    attempts: result.attempts,
    podAttempts,
    verified: result.verified,
    message: result.message,
    apiWrites: 0,
    ...(progressSource ? { progressSource } : {}),
  };
}

/** A pod lost or killed without a result (evicted, OOM-killed, node gone, deleted) is worth another
 * pod; a result, a pod that cannot start, or an agent that exited on its own without one is final. */
export function worthAnotherPod(end: PodEnd, pvc: string): boolean {
  if (end.kind === 'lost') return true;
  if (end.kind === 'stuck') return false;
  if (resultFromTerminationMessage(end.terminated.message, pvc)) return false;
  return end.terminated.exitCode >= 128 || ['OOMKilled', 'Evicted', 'ContainerStatusUnknown'].includes(end.terminated.reason ?? '');
}

/** Succeeded only when the container exited 0 and said Succeeded in its result. */
export function finalResult(pvc: string, end: PodEnd, startedAt: number, attemptsSeen: number): ResultEvent {
  const failed = (exitCode: number, message: string): ResultEvent => ({
    type: 'result',
    pvc,
    status: 'Failed',
    exitCode,
    bytes: 0,
    files: 0,
    durationMs: Date.now() - startedAt,
    verified: null,
    attempts: Math.max(1, attemptsSeen),
    message,
  });
  if (end.kind !== 'terminated') return failed(1, end.message);
  const reported = resultFromTerminationMessage(end.terminated.message, pvc);
  if (!reported) {
    return failed(
      end.terminated.exitCode || 1,
      `client pod exited with code ${end.terminated.exitCode}${end.terminated.reason ? ` (${end.terminated.reason})` : ''} without a result event`,
    );
  }
  if (end.terminated.exitCode !== 0 && reported.status === 'Succeeded') {
    return {
      ...reported,
      status: 'Failed',
      exitCode: end.terminated.exitCode,
      message: `agent reported success but exited with code ${end.terminated.exitCode}`,
    };
  }
  return reported;
}
