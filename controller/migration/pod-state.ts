// Reading a pod's status: ready, terminated (with exit code and termination message), or stuck for a
// reason that will not fix itself (image pull, bad config, unschedulable).
import { parseAgentEvent, type ResultEvent } from '../../contract/events.js';
import type { Obj } from '../cluster/objects.js';

const HOPELESS_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'CrashLoopBackOff',
  'RunContainerError',
]);

export function isPodReady(pod: Obj | undefined): boolean {
  return (pod?.status?.conditions ?? []).some((condition: Obj) => condition.type === 'Ready' && condition.status === 'True');
}

/** Why a pod will not get going, or undefined while it still might. Unschedulable is not in it: a
 * busy node frees up (more client pods than it can hold at once), so it only matters when the
 * start timeout runs out (pendingReason says then why). */
export function stuckReason(pod: Obj | undefined): string | undefined {
  if (!pod) return undefined;
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    const terminated = terminatedState(pod);
    return `pod ended (${pod.status.phase}${terminated ? `, exit code ${terminated.exitCode}` : ''})${terminated?.message ? `: ${terminated.message.slice(0, 300)}` : ''}`;
  }
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting && HOPELESS_WAITING.has(waiting.reason)) return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}${lastExit(status)}`;
  }
  return undefined;
}

/** What keeps a pod from running, for a timeout message: unschedulable, or a waiting reason. */
export function pendingReason(pod: Obj | undefined): string | undefined {
  const unschedulable = (pod?.status?.conditions ?? []).find((condition: Obj) => condition.type === 'PodScheduled' && condition.reason === 'Unschedulable');
  if (unschedulable) return `Unschedulable: ${unschedulable.message ?? ''}`;
  const waiting = pod?.status?.containerStatuses?.[0]?.state?.waiting;
  return waiting?.reason ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` : undefined;
}

/** A crash-looping container's last run: its exit code and the end of what it said (the agent's
 * termination message, or its last log lines: FallbackToLogsOnError). */
function lastExit(status: Obj): string {
  const terminated = status.lastState?.terminated;
  if (!terminated) return '';
  const said = String(terminated.message ?? '')
    .trim()
    .split('\n')
    .slice(-3)
    .join(' | ')
    .slice(-600);
  return `; last exit code ${terminated.exitCode ?? '?'}${said ? `: ${said}` : ''}`;
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
