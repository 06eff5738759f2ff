// Reconciling one DirectVolumeMigration: a chain of steps, each of which either ensures one thing
// and lets the next run, or settles this pass (returns false). Every pass starts from the object as
// the API server has it now, so a pass may be repeated or cut short at any point (a restart, a lost
// lease) and the next pass picks up from what the resource and the clusters say:
//
//   gone? -> cancel a run of ours | deleting? -> finalize | unquiesce asked? -> restore
//   | settled? -> nothing -> spec parses (else InvalidSpec) -> clusters connect (else InvalidClusterRef)
//   -> our finalizer is on it -> nothing of a predecessor is left (same run id) -> DVMPs exist
//   -> a run over the PVCs not finished yet (or the outcome, when all are)
import { describeApiError } from '../cluster/api-error.js';
import { cleanupRun } from '../migration/cleanup.js';
import type { Clusters } from '../migration/context.js';
import { pvcKey, pvcPairs } from '../config/spec.js';
import { ANNOTATION_UNQUIESCE, FINALIZER_DVM, progressSelector } from '../manifests/labels.js';
import { connectDvmClusters, ClusterRefError } from './cluster-refs.js';
import type { OperatorContext } from './context.js';
import { deleteCustomByLabel, patchCustom, readDvm } from './custom-objects.js';
import { startDvmRun } from './dvm-run.js';
import { InvalidSpecError, parseDvm, type ParsedDvm } from './dvm-spec.js';
import { ProgressWriters } from './progress-writer.js';
import { DVM_RESOURCE, DVMP_RESOURCE, dvmKey, FINAL_PHASES, type DirectVolumeMigration } from './resources.js';
import { DvmStatusWriter } from './status-writer.js';
import { unquiesce, unquiesceRequested } from './unquiesce.js';

export async function reconcile(ctx: OperatorContext, key: string): Promise<void> {
  const [namespace, name] = key.split('/') as [string, string];
  const dvm = await readDvm(ctx.local, namespace, name);
  if (!dvm) return cancelOrphanedRun(ctx, key);
  if (dvm.metadata.deletionTimestamp) return finalize(ctx, dvm);
  if (unquiesceRequested(dvm)) return unquiesceOnRequest(ctx, dvm);
  if (isSettled(dvm) || ctx.runs.get(key)) return;
  const parsed = await parseOrReport(ctx, dvm);
  if (!parsed) return;
  const clusters = await connectOrReport(ctx, dvm, parsed);
  if (!clusters) return;
  const current = await ensureFinalizer(ctx, dvm);
  await ensureNoLeftovers(ctx, current, parsed, clusters);
  await startOrComplete(ctx, current, parsed, clusters);
}

/** Succeeded is final; Failed is final for the generation it failed with (editing the spec tries
 * again, PVCs that succeeded before are not copied again). */
export function isSettled(dvm: DirectVolumeMigration): boolean {
  const phase = dvm.status?.phase;
  if (phase === 'Succeeded') return true;
  return phase !== undefined && FINAL_PHASES.has(phase) && dvm.status?.observedGeneration === dvm.metadata.generation;
}

/** Its status changes when the workloads are back, which reconciles it again for the rest. */
async function unquiesceOnRequest(ctx: OperatorContext, dvm: DirectVolumeMigration): Promise<void> {
  const parsed = await parseOrReport(ctx, dvm);
  if (!parsed) return;
  const clusters = await connectOrReport(ctx, dvm, parsed);
  if (!clusters) return;
  await unquiesce(ctx, dvm, clusters, runNamespaces(parsed).source, `${ANNOTATION_UNQUIESCE} is "true"`);
}

/** The resource vanished without our finalizer running (it was removed by hand): stop copying. */
async function cancelOrphanedRun(ctx: OperatorContext, key: string): Promise<void> {
  const run = ctx.runs.get(key);
  if (!run) return;
  run.deleting = true;
  run.handle.cancel();
  await run.done;
}

async function parseOrReport(ctx: OperatorContext, dvm: DirectVolumeMigration): Promise<ParsedDvm | undefined> {
  try {
    return parseDvm(dvm);
  } catch (error) {
    if (!(error instanceof InvalidSpecError)) throw error;
    await reportRefused(ctx, dvm, 'InvalidSpec', error.message);
    return undefined;
  }
}

async function connectOrReport(ctx: OperatorContext, dvm: DirectVolumeMigration, parsed: ParsedDvm): Promise<Clusters | undefined> {
  try {
    return await connectDvmClusters(ctx.local, parsed);
  } catch (error) {
    if (!(error instanceof ClusterRefError) || error.retryable) throw error;
    await reportRefused(ctx, dvm, 'InvalidClusterRef', error.message);
    return undefined;
  }
}

/** Bad input: one condition naming the field, phase Failed for this generation, one Event; no
 * finalizer, no progress resource, nothing on any cluster. */
async function reportRefused(ctx: OperatorContext, dvm: DirectVolumeMigration, type: string, message: string): Promise<void> {
  const status = new DvmStatusWriter(dvm, [], { cluster: ctx.local, log: ctx.log, intervalMs: 0 });
  status.condition({ type, status: 'True', reason: type, category: 'Critical', message });
  status.complete('Failed', message, [message]);
  ctx.recorder.record(dvm, 'Warning', type, message);
  await status.flush();
  status.close();
}

async function ensureFinalizer(ctx: OperatorContext, dvm: DirectVolumeMigration): Promise<DirectVolumeMigration> {
  const finalizers = dvm.metadata.finalizers ?? [];
  if (finalizers.includes(FINALIZER_DVM)) return dvm;
  // resourceVersion makes the patch fail (409, retried) instead of dropping a finalizer someone else
  // added in between.
  return patchCustom<DirectVolumeMigration>(ctx.local, DVM_RESOURCE, dvm.metadata.namespace, dvm.metadata.name, {
    metadata: { finalizers: [...finalizers, FINALIZER_DVM], resourceVersion: dvm.metadata.resourceVersion },
  });
}

function runNamespaces(parsed: ParsedDvm): { source: string[]; destination: string[] } {
  const pairs = pvcPairs(parsed.spec);
  return {
    source: [...new Set(pairs.map((pair) => pair.source.namespace))],
    destination: [...new Set(pairs.map((pair) => pair.target.namespace))],
  };
}

/** A run this process does not hold, with objects on the clusters, is a predecessor's (killed, or
 * its lease lost): its pods are deleted and gone before new ones are made, so a PVC never has two. */
async function ensureNoLeftovers(ctx: OperatorContext, dvm: DirectVolumeMigration, parsed: ParsedDvm, clusters: Clusters): Promise<void> {
  const removed = await cleanupRun(clusters, dvm.metadata.uid, { namespaces: runNamespaces(parsed) });
  const count = removed.source + removed.destination;
  if (count > 0) ctx.recorder.record(dvm, 'Normal', 'Resumed', `removed ${count} transfer object(s) an earlier controller process left; resuming`);
}

async function startOrComplete(ctx: OperatorContext, dvm: DirectVolumeMigration, parsed: ParsedDvm, clusters: Clusters): Promise<void> {
  // A new generation after a failure tries the failed PVCs again; a restart mid-run does not.
  const record = dvm.status?.observedGeneration === dvm.metadata.generation ? dvm : { ...dvm, status: { ...dvm.status, failedPods: [] } };
  const pairs = pvcPairs(parsed.spec);
  const status = new DvmStatusWriter(
    record,
    pairs.map((pair) => pair.source),
    { cluster: ctx.local, log: ctx.log, intervalMs: ctx.statusIntervalMs },
  );
  const finished = status.finishedKeys();
  const remaining = parsed.spec.persistentVolumeClaims.filter((pvc) => !finished.has(pvcKey(pvc)));
  if (remaining.length === 0) {
    completeFromRecord(ctx, dvm, status, pairs.length);
    await status.flush();
    status.close();
    return;
  }
  // Asked to keep the applications running: a CutOver then copies without stopping them.
  const keepRunning = dvm.metadata.annotations?.[ANNOTATION_UNQUIESCE] === 'true';
  const spec = { ...parsed.spec, persistentVolumeClaims: remaining, quiescePods: parsed.spec.quiescePods && !keepRunning };
  const progress = await ProgressWriters.ensure(dvm, pvcPairs(spec), {
    cluster: ctx.local,
    log: ctx.log,
    intervalMs: ctx.progressIntervalMs,
    maxAttempts: ctx.settings.rsync_backoff_limit + 1,
    ...(dvm.spec?.srcMigClusterRef ? { clusterRef: dvm.spec.srcMigClusterRef } : {}),
  });
  if (finished.size > 0)
    ctx.recorder.record(dvm, 'Normal', 'Resumed', `${finished.size} of ${pairs.length} PVC(s) finished earlier; copying the other ${remaining.length}`);
  else ctx.recorder.record(dvm, 'Normal', 'Started', `copying ${remaining.length} PVC(s)`);
  startDvmRun(ctx, { dvm, spec, clusters, status, progress });
}

/** Every PVC already has its result (the previous process wrote the last one, then died). */
function completeFromRecord(ctx: OperatorContext, dvm: DirectVolumeMigration, status: DvmStatusWriter, total: number): void {
  const succeeded = status.succeededCount();
  if (succeeded === total) {
    status.complete('Succeeded', `${total} total volumes; ${succeeded} successful; 0 running; 0 failed`, []);
    ctx.recorder.record(dvm, 'Normal', 'Succeeded', `all ${total} PVC(s) were migrated`);
  } else {
    const message = `The migration has failed: ${total} total volumes; ${succeeded} successful; ${total - succeeded} failed. See: errors.`;
    status.complete('Failed', message, dvm.status?.errors ?? []);
    ctx.recorder.record(dvm, 'Warning', 'Failed', message);
  }
}

/** Deleting: a run of ours is cancelled (its cleanup deletes the transfer objects), a
 * predecessor's objects are deleted, the DVMPs go, then our finalizer. */
async function finalize(ctx: OperatorContext, dvm: DirectVolumeMigration): Promise<void> {
  const finalizers = dvm.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER_DVM)) return;
  const run = ctx.runs.get(dvmKey(dvm));
  if (run) {
    run.deleting = true;
    run.handle.cancel();
    await run.done;
  } else {
    await removeLeftoversOnDelete(ctx, dvm);
  }
  forgetProgress(ctx, dvm);
  await deleteCustomByLabel(ctx.local, DVMP_RESOURCE, dvm.metadata.namespace, progressSelector(dvm.metadata.name));
  // Read again: the cancelled run's last status writes changed it since this pass began.
  const latest = await readDvm(ctx.local, dvm.metadata.namespace, dvm.metadata.name);
  if (!latest) return;
  await patchCustom(ctx.local, DVM_RESOURCE, dvm.metadata.namespace, dvm.metadata.name, {
    metadata: {
      finalizers: (latest.metadata.finalizers ?? []).filter((finalizer) => finalizer !== FINALIZER_DVM),
      resourceVersion: latest.metadata.resourceVersion,
    },
  });
}

async function removeLeftoversOnDelete(ctx: OperatorContext, dvm: DirectVolumeMigration): Promise<void> {
  let parsed: ParsedDvm;
  let clusters: Clusters;
  try {
    parsed = parseDvm(dvm);
    clusters = await connectDvmClusters(ctx.local, parsed);
  } catch (error) {
    // Without a usable spec or cluster there is nothing we could delete: do not block the deletion.
    if (error instanceof InvalidSpecError || (error instanceof ClusterRefError && !error.retryable)) {
      ctx.recorder.record(dvm, 'Warning', 'CleanupSkipped', `cannot look for transfer objects to delete: ${error.message}`);
      return;
    }
    throw error;
  }
  try {
    await cleanupRun(clusters, dvm.metadata.uid, { namespaces: runNamespaces(parsed) });
  } catch (error) {
    throw new Error(`deleting the transfer objects of ${dvmKey(dvm)}: ${describeApiError(error)}`);
  }
  // A CutOver that succeeded leaves its applications stopped (that is what it was for).
  if (parsed.spec.quiescePods && dvm.status?.phase !== 'Succeeded')
    await unquiesce(ctx, dvm, clusters, runNamespaces(parsed).source, 'deleted before it succeeded');
}

function forgetProgress(ctx: OperatorContext, dvm: DirectVolumeMigration): void {
  try {
    ctx.hub.forget(pvcPairs(parseDvm(dvm).spec).map((pair) => pvcKey(pair.source)));
  } catch {
    // An unparsable spec never had progress.
  }
}
