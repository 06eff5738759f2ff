// Reading a pod's status: ready, terminated (with exit code and termination message), or stuck for a
// reason that will not fix itself (image pull, bad config, unschedulable).
import { parseAgentEvent, type ResultEvent } from '../../agent/progress/events.js';
import type { Obj } from '../cluster/objects.js';

const HOPELESS_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'CrashLoopBackOff', 'RunContainerError']);

export function isPodReady(pod: Obj | undefined): boolean {
  return (pod?.status?.conditions ?? []).some((condition: Obj) => condition.type === 'Ready' && condition.status === 'True');
}

/** Why a pod will not get going, or undefined while it still might. */
export function stuckReason(pod: Obj | undefined): string | undefined {
  if (!pod) return undefined;
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    const terminated = terminatedState(pod);
    return `pod ended (${pod.status.phase}${terminated ? `, exit code ${terminated.exitCode}` : ''})${terminated?.message ? `: ${terminated.message.slice(0, 300)}` : ''}`;
  }
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting && HOPELESS_WAITING.has(waiting.reason)) return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
  }
  const unschedulable = (pod.status?.conditions ?? []).find((condition: Obj) => condition.type === 'PodScheduled' && condition.reason === 'Unschedulable');
  return unschedulable ? `Unschedulable: ${unschedulable.message ?? ''}` : undefined;
}

export interface Terminated {
  exitCode: number;
  message?: string;
  reason?: string;
}

export function terminatedState(pod: Obj | undefined): Terminated | undefined {
  const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  if (!terminated) return undefined;
  return {
    exitCode: Number(terminated.exitCode ?? 1),
    ...(terminated.message ? { message: String(terminated.message) } : {}),
    ...(terminated.reason ? { reason: String(terminated.reason) } : {}),
  };
}

/** The agent writes its result event as JSON to the termination-message file. */
export function resultFromTerminationMessage(message: string | undefined, pvc: string): ResultEvent | undefined {
  if (!message) return undefined;
  const event = parseAgentEvent(message);
  return event?.type === 'result' && event.pvc === pvc ? event : undefined;
}
