// The status of one DirectVolumeMigration while this process drives it: phase, conditions, errors,
// the per-PVC lists (successfulPods, failedPods, runningPods, pendingPods) and counts, written
// through the status subresource at a bounded rate (throttle.ts). A PVC goes into successfulPods or
// failedPods as soon as its result is known: that record is what lets the next controller process,
// after a restart, skip the PVCs that are done.
import type { Logger } from 'pino';
import { describeApiError } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import type { PodEvent } from '../migration/events.js';
import { isTerminal, type PvcState } from '../progress/pvc-state.js';
import { patchStatus } from './custom-objects.js';
import { DVM_RESOURCE, type Condition, type DirectVolumeMigration, type DvmPhase, type DvmStatus, type ObjectRef, type PodProgress } from './resources.js';
import { finishedPvcs, podProgress, pvcRefKey, withCondition, withoutCondition, type PodSeen } from './status-model.js';
import { ThrottledWriter } from './throttle.js';
import type { WorkloadRef } from '../manifests/workloads.js';

export interface StatusWriterOptions {
  cluster: Cluster;
  log: Logger;
  intervalMs: number;
}

export class DvmStatusWriter {
  private status: DvmStatus;
  private readonly finished: Map<string, { entry: PodProgress; succeeded: boolean }>;
  private readonly live = new Map<string, PvcState>();
  private readonly pods = new Map<string, PodSeen>();
  private readonly writer: ThrottledWriter<DvmStatus>;

  /** `pvcs`: every source PVC of the spec, in spec order. */
  constructor(
    private readonly dvm: DirectVolumeMigration,
    private readonly pvcs: readonly ObjectRef[],
    options: StatusWriterOptions,
  ) {
    this.status = { ...(dvm.status ?? {}), observedGeneration: dvm.metadata.generation ?? 0 };
    this.finished = finishedPvcs(dvm.status);
    const { namespace, name } = dvm.metadata;
    this.writer = new ThrottledWriter((status) => patchStatus(options.cluster, DVM_RESOURCE, namespace, name, status), {
      intervalMs: options.intervalMs,
      onError: (error) => options.log.warn({ dvm: `${namespace}/${name}`, err: describeApiError(error) }, 'cannot write the DirectVolumeMigration status'),
    });
  }

  /** Finished PVCs (this run's and earlier ones'), by "namespace/name". */
  finishedKeys(): Set<string> {
    return new Set(this.finished.keys());
  }

  succeededCount(): number {
    return [...this.finished.values()].filter((pvc) => pvc.succeeded).length;
  }

  started(runId: string, now: Date): void {
    this.status.runId = runId;
    this.status.startTimestamp ??= now.toISOString();
    delete this.status.completionTimestamp;
    this.status.errors = [];
    // A new run (or a resumed one) says afresh what is wrong: a refusal of an earlier generation is over.
    this.status.conditions = [];
  }

  phase(phase: DvmPhase, description: string): void {
    this.status.phase = phase;
    this.status.phaseDescription = description;
    if (phase !== 'Succeeded' && phase !== 'Failed') {
      this.condition({ type: 'Running', status: 'True', reason: phase, category: 'Advisory', message: description });
    }
    this.changed();
  }

  condition(condition: Omit<Condition, 'lastTransitionTime'>): void {
    this.status.conditions = withCondition(this.status.conditions ?? [], condition, new Date().toISOString());
    this.changed();
  }

  clearCondition(type: string): void {
    this.status.conditions = withoutCondition(this.status.conditions ?? [], type);
    this.changed();
  }

  pvc(state: PvcState): void {
    this.live.set(state.pvc, state);
    if (isTerminal(state.state)) {
      this.finished.set(state.pvc, { entry: podProgress(state, this.pods.get(state.pvc)), succeeded: state.state === 'Succeeded' });
    }
    this.changed();
  }

  pod(event: PodEvent): void {
    this.pods.set(event.pvc, { name: event.pod, namespace: event.pvc.slice(0, event.pvc.indexOf('/')), state: event.state });
    this.changed();
  }

  /** The end: Succeeded or Failed, with the errors that made it fail. */
  complete(outcome: 'Succeeded' | 'Failed', message: string, errors: string[]): void {
    this.status.completionTimestamp = new Date().toISOString();
    this.status.errors = errors;
    let conditions = withoutCondition(this.status.conditions ?? [], 'Running');
    const now = new Date().toISOString();
    conditions =
      outcome === 'Succeeded'
        ? withCondition(withoutCondition(conditions, 'Failed'), { type: 'Succeeded', status: 'True', reason: 'Completed', category: 'Advisory', message }, now)
        : withCondition(
            withoutCondition(conditions, 'Succeeded'),
            { type: 'Failed', status: 'True', reason: 'MigrationFailed', category: 'Critical', message },
            now,
          );
    this.status.conditions = conditions;
    this.phase(outcome, message);
  }

  /** The workloads the migration holds stopped on the source now (empty once they are restored). */
  quiesced(workloads: readonly WorkloadRef[]): void {
    this.status.quiescedWorkloads = [...workloads];
    this.changed();
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): void {
    this.writer.close();
  }

  render(): DvmStatus {
    const running: PodProgress[] = [];
    const pending: PodProgress[] = [];
    for (const ref of this.pvcs) {
      const key = pvcRefKey(ref);
      if (this.finished.has(key)) continue;
      const state = this.live.get(key);
      const entry = state ? podProgress(state, this.pods.get(key)) : { kind: 'Pod' as const, name: '', namespace: ref.namespace, pvcRef: ref };
      (state && state.state !== 'Pending' ? running : pending).push(entry);
    }
    const ordered = this.pvcs.map((ref) => this.finished.get(pvcRefKey(ref))).filter((pvc) => pvc !== undefined);
    const successful = ordered.filter((pvc) => pvc.succeeded).map((pvc) => pvc.entry);
    const failed = ordered.filter((pvc) => !pvc.succeeded).map((pvc) => pvc.entry);
    return {
      ...this.status,
      successfulPods: successful,
      failedPods: failed,
      runningPods: running,
      pendingPods: pending,
      counts: { total: this.pvcs.length, pending: pending.length, running: running.length, succeeded: successful.length, failed: failed.length },
      rsyncOperations: this.pvcs.map((ref) => {
        const key = pvcRefKey(ref);
        const done = this.finished.get(key);
        return { pvcReference: ref, currentAttempt: this.live.get(key)?.attempt ?? 0, succeeded: done?.succeeded === true, failed: done?.succeeded === false };
      }),
    };
  }

  private changed(): void {
    this.writer.set(this.render());
  }
}
