// Pure functions from what a run knows to what the two statuses say: MTC's phases, conditions and
// per-PVC lists for a DirectVolumeMigration, the progress fields of a DirectVolumeMigrationProgress.
// No I/O here: status-writer.ts and progress-writer.ts write what these build.
import type { MigrationPhaseName, PodEvent } from '../migration/events.js';
import type { PvcState } from '../progress/pvc-state.js';
import type { Condition, DvmPhase, DvmpStatus, DvmStatus, ObjectRef, PodProgress } from './resources.js';

/** The run's own phases (migration/run.ts) as DirectVolumeMigration phases. */
const PHASE_OF_RUN: Record<MigrationPhaseName, DvmPhase> = {
  preflight: 'Prepare',
  'stale-cleanup': 'CleanStaleRsyncResources',
  destination: 'CreateDestinationPVCs',
  servers: 'CreateRsyncTransferPods',
  quiesce: 'QuiesceApplications',
  'quiesce-wait': 'WaitForApplicationsQuiesced',
  clients: 'RunRsyncOperations',
  cleanup: 'DeleteRsyncResources',
  unquiesce: 'UnQuiesceApplications',
  done: 'DeleteRsyncResources',
};

export function dvmPhaseOf(runPhase: MigrationPhaseName): DvmPhase {
  return PHASE_OF_RUN[runPhase];
}

/** Go's time.Duration style, as metav1.Duration prints it ("1m2s", "3.5s"). */
export function goDuration(ms: number): string {
  const total = Math.max(0, ms) / 1000;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const secondsText = `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1).replace(/\.0$/, '')}s`;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${secondsText}`;
}

/** MTC's rate text: decimal units, two decimals ("12.34MB/s"). */
export function mtcRate(bytesPerSecond: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, bytesPerSecond);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(2)}${units[unit]}/s`;
}

/** Sets (or replaces) a condition by type; lastTransitionTime moves only when its status changes. */
export function withCondition(conditions: readonly Condition[], condition: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const previous = conditions.find((existing) => existing.type === condition.type);
  const lastTransitionTime = previous && previous.status === condition.status && previous.lastTransitionTime ? previous.lastTransitionTime : now;
  return [...conditions.filter((existing) => existing.type !== condition.type), { ...condition, lastTransitionTime }];
}

export function withoutCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((existing) => existing.type !== type);
}

export function pvcRefKey(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** PVCs a DirectVolumeMigration's status records as finished (by an earlier process, or earlier in
 * this one): the ones a resumed run must not copy again. */
export function finishedPvcs(status: DvmStatus | undefined): Map<string, { entry: PodProgress; succeeded: boolean }> {
  const finished = new Map<string, { entry: PodProgress; succeeded: boolean }>();
  for (const entry of status?.successfulPods ?? []) finished.set(pvcRefKey(entry.pvcRef), { entry, succeeded: true });
  for (const entry of status?.failedPods ?? []) finished.set(pvcRefKey(entry.pvcRef), { entry, succeeded: false });
  return finished;
}

/** The client pod of a PVC as the run last reported it. */
export interface PodSeen {
  name: string;
  namespace: string;
  state: PodEvent['state'];
}

export function podProgress(state: PvcState, pod: PodSeen | undefined): PodProgress {
  return {
    kind: 'Pod',
    name: pod?.name ?? '',
    namespace: pod?.namespace ?? state.namespace,
    pvcRef: { namespace: state.namespace, name: state.name },
    lastObservedProgressPercent: `${Math.floor(state.percent)}%`,
    lastObservedTransferRate: mtcRate(state.rateBps),
    totalElapsedTime: goDuration(state.durationMs ?? state.elapsedMs),
    ...(state.message ? { message: state.message } : {}),
  };
}

export function podPhaseOf(state: PvcState, pod: PodSeen | undefined): string | undefined {
  if (!pod) return undefined;
  switch (pod.state) {
    case 'created':
      return 'Pending';
    case 'running':
      return 'Running';
    case 'terminated':
      return state.state === 'Succeeded' ? 'Succeeded' : 'Failed';
    case 'lost':
      return 'Failed';
  }
}

/** A DVMP's status. `floor` is what the resource already said (an earlier process's run of the same
 * PVC): percent and bytes never go below it, so the progress a watcher sees only goes up, also
 * across a controller restart. */
export function progressStatus(state: PvcState, pod: PodSeen | undefined, floor: Partial<DvmpStatus> | undefined, maxAttempts: number, now: Date): DvmpStatus {
  const percent = Math.max(floor?.progressPercent ?? 0, state.percent);
  const podPhase = podPhaseOf(state, pod);
  return {
    phase: state.state,
    ...(podPhase ? { podPhase } : floor?.podPhase ? { podPhase: floor.podPhase } : {}),
    ...(pod ? { podName: pod.name } : floor?.podName ? { podName: floor.podName } : {}),
    ...(state.exitCode !== null ? { exitCode: state.exitCode } : {}),
    ...(state.message ? { logMessage: state.message } : {}),
    totalProgressPercentage: `${Math.floor(percent)}%`,
    progressPercent: Math.round(percent * 100) / 100,
    transferredBytes: Math.max(floor?.transferredBytes ?? 0, state.bytes),
    totalBytes: state.totalBytes || (floor?.totalBytes ?? 0),
    files: Math.max(floor?.files ?? 0, state.files),
    filesTotal: state.filesTotal || (floor?.filesTotal ?? 0),
    lastObservedTransferRate: mtcRate(state.rateBps),
    transferRateBytesPerSecond: Math.round(state.rateBps),
    ...(state.etaSeconds !== null ? { etaSeconds: Math.round(state.etaSeconds) } : {}),
    rsyncElapsedTime: goDuration(state.durationMs ?? state.elapsedMs),
    elapsedSeconds: Math.round((state.durationMs ?? state.elapsedMs) / 100) / 10,
    attempt: state.attempt,
    maxAttempts,
    ...(state.verified !== null ? { verified: state.verified } : {}),
    lastUpdateTime: now.toISOString(),
  };
}
