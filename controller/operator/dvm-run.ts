// One DirectVolumeMigration's migration in this process: the run handle (the library's own
// startMigration, over the PVCs not finished yet), its status and progress writers, its Events, and
// the outcome once it ends. Succeeded only when every PVC of the spec has a Succeeded result, this
// run's or an earlier process's: never for a copy that did not report success.
import { isAgentEvent } from '../../contract/events.js';
import { ConfigError } from '../config/errors.js';
import { pvcKey, pvcPairs, type MigrationSpec } from '../config/spec.js';
import type { Clusters } from '../migration/context.js';
import type { ControllerEvent, MigrationResult } from '../migration/events.js';
import { startMigration } from '../migration/handle.js';
import type { ActiveRun } from './active-runs.js';
import type { OperatorContext } from './context.js';
import { dvmKey, type DirectVolumeMigration } from './resources.js';
import type { WorkloadRef } from '../manifests/workloads.js';
import type { ProgressWriters } from './progress-writer.js';
import { dvmPhaseOf } from './status-model.js';
import type { DvmStatusWriter } from './status-writer.js';

export interface DvmRunInput {
  dvm: DirectVolumeMigration;
  /** The spec with only the PVCs still to copy. */
  spec: MigrationSpec;
  clusters: Clusters;
  status: DvmStatusWriter;
  progress: ProgressWriters;
}

export function startDvmRun(ctx: OperatorContext, input: DvmRunInput): ActiveRun {
  const { dvm, status, progress } = input;
  const key = dvmKey(dvm);
  const log = ctx.log.child({ dvm: key });
  const handle = startMigration({ spec: input.spec, settings: ctx.settings, clusters: input.clusters, runId: dvm.metadata.uid, log, removeStaleRuns: false });
  const keys = pvcPairs(input.spec).map((pair) => pvcKey(pair.source));
  ctx.hub.track(keys);
  progress.follow(handle);
  handle.onEvent((event) => followEvent(ctx, dvm, status, event));
  handle.progress.on('change', ({ pvc }) => status.pvc(pvc));
  status.started(handle.runId, new Date());
  status.phase('Started', `copying ${keys.length} PVC(s)${status.finishedKeys().size > 0 ? `; ${status.finishedKeys().size} finished earlier` : ''}`);

  const run: ActiveRun = { key, uid: dvm.metadata.uid, handle, status, deleting: false, done: Promise.resolve() };
  run.done = handle.result
    .then((result) => (run.deleting ? undefined : reportOutcome(ctx, dvm, status, result)))
    .catch((error: unknown) => (run.deleting ? undefined : reportRefusal(ctx, dvm, status, error)))
    .then(() => progress.flush())
    .then(() => status.flush())
    .catch((error: unknown) => log.error({ err: (error as Error).message }, 'writing the outcome failed'))
    .finally(() => {
      progress.close();
      status.close();
      ctx.runs.remove(key);
      ctx.requeue(key);
    });
  ctx.runs.add(run);
  return run;
}

function followEvent(ctx: OperatorContext, dvm: DirectVolumeMigration, status: DvmStatusWriter, event: ControllerEvent): void {
  if (isAgentEvent(event)) {
    ctx.hub.apply(event);
    return;
  }
  if (event.type === 'phase') {
    if (event.phase !== 'done') status.phase(dvmPhaseOf(event.phase), event.message);
    if (event.phase === 'quiesce' && event.workloads) followQuiesce(ctx, dvm, status, event.workloads, 'Quiesced', event.message);
    if (event.phase === 'unquiesce' && event.workloads) followQuiesce(ctx, dvm, status, [], 'Unquiesced', event.message);
    return;
  }
  status.pod(event);
  if (event.state === 'lost') ctx.recorder.record(dvm, 'Warning', 'TransferPodLost', `${event.pvc}: ${event.message ?? `client pod ${event.pod} was lost`}`);
}

function followQuiesce(ctx: OperatorContext, dvm: DirectVolumeMigration, status: DvmStatusWriter, held: WorkloadRef[], reason: string, message: string): void {
  status.quiesced(held);
  ctx.recorder.record(dvm, 'Normal', reason, message);
}

function reportOutcome(ctx: OperatorContext, dvm: DirectVolumeMigration, status: DvmStatusWriter, result: MigrationResult): void {
  for (const pvc of result.pvcs) {
    if (pvc.status === 'Succeeded')
      ctx.recorder.record(
        dvm,
        'Normal',
        'PvcMigrated',
        `${pvc.pvc} -> ${pvc.target}: ${pvc.bytes} bytes in ${(pvc.durationMs / 1000).toFixed(1)} s${pvc.verified ? ', verified' : ''}`,
      );
    else ctx.recorder.record(dvm, 'Warning', 'PvcFailed', `${pvc.pvc} -> ${pvc.target}: ${pvc.message}`);
  }
  if (result.quiesce?.error) {
    status.condition({ type: 'UnQuiesceFailed', status: 'True', reason: 'UnQuiesceApplications', category: 'Critical', message: result.quiesce.error });
    ctx.recorder.record(dvm, 'Warning', 'UnQuiesceFailed', result.quiesce.error);
  }
  if (result.cleanup.error) {
    status.condition({ type: 'CleanupFailed', status: 'True', reason: 'DeleteRsyncResources', category: 'Warn', message: result.cleanup.error });
    ctx.recorder.record(dvm, 'Warning', 'CleanupFailed', result.cleanup.error);
  }
  const total = dvm.spec && Array.isArray(dvm.spec.persistentVolumeClaims) ? dvm.spec.persistentVolumeClaims.length : 0;
  const succeeded = status.succeededCount();
  // Data first: the run's own verdict and every PVC of the spec recorded as Succeeded.
  if (result.status === 'Succeeded' && succeeded === total) {
    const message = `${total} total volumes; ${succeeded} successful; 0 running; 0 failed`;
    status.complete('Succeeded', message, []);
    ctx.recorder.record(dvm, 'Normal', 'Succeeded', message);
    return;
  }
  const errors = [
    ...result.pvcs.filter((pvc) => pvc.status !== 'Succeeded').map((pvc) => `${pvc.pvc}: ${pvc.message}`),
    ...(result.pvcs.every((pvc) => pvc.status === 'Succeeded') ? [result.message] : []),
  ];
  const message = `The migration has failed: ${total} total volumes; ${succeeded} successful; ${total - succeeded} failed. See: errors.`;
  status.complete('Failed', message, errors);
  ctx.recorder.record(dvm, 'Warning', 'Failed', `${message} ${errors.join('; ')}`);
}

/** The run never started: preflight refused the input (a PVC not found, not bound, a namespace
 * missing) or a cluster. Nothing was created. */
function reportRefusal(ctx: OperatorContext, dvm: DirectVolumeMigration, status: DvmStatusWriter, error: unknown): void {
  const message = (error as Error).message;
  const type = error instanceof ConfigError ? 'PreflightFailed' : 'RunFailed';
  status.condition({ type, status: 'True', reason: type, category: 'Critical', message });
  status.complete('Failed', message, [message]);
  ctx.recorder.record(dvm, 'Warning', type, message);
}
