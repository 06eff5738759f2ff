// One PVC's copy: its config Secret, a client pod (a new one, with the next attempt label, when a pod
// is lost without a result, up to backOffLimit), its live events, and the outcome from the pod's exit
// code plus the result event in its termination message: never from how a log ends.
import type { AgentEvent, ResultEvent } from '../../contract/events.js';
import { createObject } from '../cluster/objects.js';
import { AbortedError } from '../cluster/watch.js';
import type { ResolvedEndpoint } from '../endpoints/index.js';
import { clientObjects } from '../manifests/render.js';
import type { ClientPlan } from '../manifests/plan.js';
import type { Preflight, RunContext } from './context.js';
import type { PvcSummary } from './events.js';
import { replayClientLog, streamClientProgress, type ProgressSource } from './client-progress.js';
import { followPodToEnd, type PodEnd } from './pod-lifecycle.js';
import { resultFromTerminationMessage } from './pod-state.js';

export async function runClient(context: RunContext, preflight: Preflight, endpoint: ResolvedEndpoint, client: ClientPlan): Promise<PvcSummary> {
  const { clusters, runId, settings, writes } = context;
  const namespace = client.pair.source.namespace;
  const startedAt = Date.now();
  const seenAttempts = new Set<number>();
  let progressSource: ProgressSource | undefined;
  const forward = (event: AgentEvent) => {
    if (event.pvc !== client.key) return;
    // The one result per PVC is the one from the termination message; attempts can arrive twice when
    // the stream switches from websocket to log.
    if (event.type === 'result') return;
    if (event.type === 'attempt') {
      if (seenAttempts.has(event.attempt)) return;
      seenAttempts.add(event.attempt);
    }
    context.emit(event);
  };

  let podAttempt = 0;
  let end: PodEnd | undefined;
  for (; podAttempt <= context.spec.backOffLimit;) {
    if (context.signal.aborted) throw new AbortedError();
    podAttempt += 1;
    const objects = clientObjects(runId, client, settings, endpoint, podAttempt, preflight.nodePins[client.key]);
    if (podAttempt === 1) await createObject(clusters.source, objects.configSecret, writes, client.key);
    const created = await createObject(clusters.source, objects.pod, writes, client.key);
    const pod = created.metadata!.name!;
    context.emit({ type: 'pod', pvc: client.key, pod, podAttempt, state: 'created' });
    let stream: ReturnType<typeof streamClientProgress> | undefined;
    try {
      end = await followPodToEnd(clusters.source, namespace, pod, {
        signal: context.signal,
        startTimeoutMs: context.timeoutMs,
        onRunning: () => {
          stream = streamClientProgress(clusters.source, namespace, pod, forward, (source) => {
            progressSource = source;
            context.emit({ type: 'pod', pvc: client.key, pod, podAttempt, state: 'running', progressSource: source });
          });
        },
      });
    } finally {
      stream?.stop();
    }
    // An agent that finished before its websocket could be reached still printed every event.
    if (end.kind === 'terminated' && !stream?.delivered() && await replayClientLog(clusters.source, namespace, pod, forward)) {
      progressSource = 'pod-log';
    }
    context.emit({ type: 'pod', pvc: client.key, pod, podAttempt, state: end.kind === 'terminated' ? 'terminated' : 'lost',
      ...(end.kind !== 'terminated' ? { message: end.message } : {}) });
    if (!worthAnotherPod(end, client.key)) break;
  }

  const result = finalResult(client.key, end!, startedAt, seenAttempts.size);
  context.emit(result);
  return {
    pvc: client.key,
    target: `${client.pair.target.namespace}/${client.pair.target.name}`,
    status: result.status,
    exitCode: result.exitCode,
    bytes: result.bytes,
    files: result.files,
    durationMs: result.durationMs,
    attempts: result.attempts,
    podAttempts: podAttempt,
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
    type: 'result', pvc, status: 'Failed', exitCode, bytes: 0, files: 0, durationMs: Date.now() - startedAt,
    verified: null, attempts: Math.max(1, attemptsSeen), message,
  });
  if (end.kind !== 'terminated') return failed(1, end.message);
  const reported = resultFromTerminationMessage(end.terminated.message, pvc);
  if (!reported) {
    return failed(end.terminated.exitCode || 1, `client pod exited with code ${end.terminated.exitCode}${end.terminated.reason ? ` (${end.terminated.reason})` : ''} without a result event`);
  }
  if (end.terminated.exitCode !== 0 && reported.status === 'Succeeded') {
    return { ...reported, status: 'Failed', exitCode: end.terminated.exitCode, message: `agent reported success but exited with code ${end.terminated.exitCode}` };
  }
  return reported;
}
