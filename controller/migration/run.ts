// The phase machine of one migration run:
//   preflight (read-only) -> stale cleanup -> destination PVCs -> servers -> clients -> cleanup.
// Cleanup runs whatever happened (success, failure, abort); a ConfigError in preflight means nothing
// was created at all.
import pino, { type Logger } from 'pino';
import { WriteCounter, SHARED } from '../cluster/write-counter.js';
import { AbortedError } from '../cluster/watch.js';
import { ConfigError } from '../config/errors.js';
import type { ControllerSettings } from '../config/settings.js';
import type { MigrationSpec } from '../config/spec.js';
import { planTransfer } from '../manifests/plan.js';
import { newRunId } from '../config/run-id.js';
import { clientSite, serverKey } from '../manifests/plan.js';
import { clientTlsSecret, volumeModesOf } from '../manifests/render.js';
import { describeApiError } from '../cluster/api-error.js';
import { createObject } from '../cluster/objects.js';
import { cleanupRun, cleanupStaleRuns } from './cleanup.js';
import { runClient } from './client-run.js';
import type { Clusters, RunContext } from './context.js';
import { createNetworkPolicies, prepareDestination } from './destination.js';
import type { EventSink, MigrationResult, PvcSummary } from './events.js';
import { describeWorkloads, type WorkloadRef } from '../manifests/workloads.js';
import { runPooled } from './pool.js';
import { preflight } from './preflight.js';
import { quiesceWorkloads, restoreWorkloads, waitForQuiesced } from './quiesce.js';
import { superviseServers } from './server-supervisor.js';
import { startServers } from './servers.js';

export interface RunOptions {
  runId?: string;
  signal?: AbortSignal;
  log?: Logger;
  /** Delete other runs' objects in the run's namespaces first (default true; see handle.ts). */
  removeStaleRuns?: boolean;
}

export async function runMigration(
  spec: MigrationSpec,
  settings: ControllerSettings,
  clusters: Clusters,
  onEvent: EventSink = () => {},
  options: RunOptions = {},
): Promise<MigrationResult> {
  const runId = options.runId ?? newRunId();
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) abort.abort();
  const log = options.log ?? pino({ level: 'silent' });
  const emit: EventSink = (event) => {
    if (event.type === 'phase') log.info({ runId, phase: event.phase }, event.message);
    else if (event.type === 'pod')
      log[event.state === 'lost' ? 'warn' : 'debug'](
        { runId, pvc: event.pvc, pod: event.pod, state: event.state, progressSource: event.progressSource },
        event.message ?? `client pod ${event.state}`,
      );
    onEvent(event);
  };
  const context: RunContext = {
    runId,
    spec,
    settings,
    plan: planTransfer(runId, spec),
    clusters,
    writes: new WriteCounter(),
    emit,
    log,
    signal: abort.signal,
    timeoutMs: settings.rsync_server_ready_timeout_seconds * 1000,
  };
  const phase = (event: Parameters<EventSink>[0] & { type: 'phase' }) => emit(event);

  phase({ type: 'phase', phase: 'preflight', message: `run ${runId}: checking clusters and PVCs` });
  const checked = await preflight(clusters, context.plan, settings);
  // The first plan took every PVC for the kind its spec says; now the source PVCs' modes are known.
  context.plan = planTransfer(runId, spec, volumeModesOf(checked.sourcePvcs));
  if (checked.missingNamespaces.length > 0 && !spec.createDestinationNamespaces) {
    throw new ConfigError(`destination namespace ${checked.missingNamespaces[0]} does not exist (set createDestinationNamespaces: true)`);
  }

  let pvcs: PvcSummary[] = [];
  let quiesced: WorkloadRef[] | undefined;
  let stopSupervising = (): void => undefined;
  let failure: unknown;
  try {
    throwIfAborted(abort.signal);
    if (options.removeStaleRuns !== false) {
      phase({ type: 'phase', phase: 'stale-cleanup', message: `run ${runId}: removing objects of earlier runs` });
      await cleanupStaleRuns(clusters, runId, { writes: context.writes, namespaces: runNamespaces(context) });
    }
    throwIfAborted(abort.signal);
    phase({ type: 'phase', phase: 'destination', message: 'ensuring destination namespaces and PVCs' });
    const destination = await prepareDestination(context, checked);
    context.log.info({ ...destination }, 'destination ready');
    await createNetworkPolicies(context);
    throwIfAborted(abort.signal);
    phase({ type: 'phase', phase: 'servers', message: `starting ${context.plan.servers.length} server pod(s) behind ${settings.rsync_endpoint_type}` });
    const servers = await startServers(context, checked);
    stopSupervising = superviseServers(context, servers.pods);
    throwIfAborted(abort.signal);
    // Last step before the copy: the applications are down for as short a time as can be.
    if (context.plan.quiesce) {
      // Set first: a failure while quiescing (a patch refused, pods that never stop) restores too.
      quiesced = [];
      quiesced.push(...(await quiesceApplications(context)));
    }
    throwIfAborted(abort.signal);
    phase({
      type: 'phase',
      phase: 'clients',
      message: `copying ${context.plan.clients.length} PVC(s), at most ${settings.rsync_max_concurrent_clients} at once`,
    });
    for (const client of context.plan.clients) {
      await createObject(clusters.source, clientTlsSecret(runId, client, servers.pki), context.writes, client.key);
    }
    pvcs = await runPooled(
      context.plan.clients,
      settings.rsync_max_concurrent_clients,
      (client) => runClient(context, checked, servers.endpoints[serverKey(clientSite(client))]!, client),
      () => abort.abort(),
    );
  } catch (error) {
    failure = error;
    if (!(error instanceof AbortedError)) log.error({ runId, err: describeApiError(error) }, 'run failed; cleaning up');
    abort.abort();
  } finally {
    stopSupervising();
    options.signal?.removeEventListener('abort', onOuterAbort);
  }

  phase({ type: 'phase', phase: 'cleanup', message: `deleting everything labelled directvolumemigration=${runId} on both clusters` });
  const cleanup: MigrationResult['cleanup'] = { source: 0, destination: 0 };
  try {
    Object.assign(cleanup, await cleanupRun(clusters, runId, { writes: context.writes, namespaces: runNamespaces(context) }));
  } catch (error) {
    cleanup.error = (error as Error).message;
  }
  const result = summarize(context, pvcs, failure, cleanup, options.signal?.aborted === true);
  if (quiesced !== undefined) result.quiesce = await restoreUnlessSucceeded(context, result, quiesced);
  phase({ type: 'phase', phase: 'done', message: result.message });
  return result;
}

/** quiescePods: every workload that uses a source PVC stopped, and no pod but ours mounting one. */
async function quiesceApplications(context: RunContext): Promise<WorkloadRef[]> {
  const claims = context.plan.clients.map((client) => client.pair.source);
  const held = await quiesceWorkloads(context.clusters.source, context.runId, claims, context.writes, SHARED);
  context.emit({
    type: 'phase',
    phase: 'quiesce',
    message: held.length > 0 ? `quiesced ${describeWorkloads(held)}` : 'no workload uses the source PVCs: nothing to quiesce',
    workloads: held,
  });
  context.emit({ type: 'phase', phase: 'quiesce-wait', message: 'waiting until no pod mounts the source PVCs' });
  await waitForQuiesced(context.clusters.source, claims, context.timeoutMs, context.signal);
  return held;
}

/** A CutOver that did not succeed (failed, aborted, cancelled) gives the applications back. */
async function restoreUnlessSucceeded(context: RunContext, result: MigrationResult, held: WorkloadRef[]): Promise<NonNullable<MigrationResult['quiesce']>> {
  if (result.status === 'Succeeded') return { held, restored: [] };
  try {
    const restored = await restoreWorkloads(context.clusters.source, context.runId, context.plan.sourceNamespaces, context.writes, SHARED);
    context.emit({
      type: 'phase',
      phase: 'unquiesce',
      message: restored.length > 0 ? `the copy did not succeed: restored ${describeWorkloads(restored)}` : 'nothing to restore',
      workloads: restored,
    });
    return { held, restored };
  } catch (error) {
    const message = `restoring the quiesced applications failed: ${describeApiError(error)}`;
    result.message = `${result.message} (${message})`;
    return { held, restored: [], error: message };
  }
}

function runNamespaces(context: RunContext): { source: string[]; destination: string[] } {
  return { source: context.plan.sourceNamespaces, destination: context.plan.destinationNamespaces };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new AbortedError();
}

function summarize(context: RunContext, pvcs: PvcSummary[], failure: unknown, cleanup: MigrationResult['cleanup'], interrupted: boolean): MigrationResult {
  const counts = context.writes.snapshot();
  const perPvc = Object.fromEntries(context.plan.clients.map((client) => [client.key, counts[client.key] ?? 0]));
  const withWrites = pvcs.map((pvc) => ({ ...pvc, apiWrites: perPvc[pvc.pvc] ?? 0 }));
  const aborted = interrupted;
  const failedPvcs = withWrites.filter((pvc) => pvc.status !== 'Succeeded');
  const status = aborted ? 'Aborted' : failure || failedPvcs.length > 0 || withWrites.length === 0 ? 'Failed' : 'Succeeded';
  const message = aborted
    ? "interrupted; the run's objects were removed"
    : failure
      ? describeApiError(failure)
      : failedPvcs.length > 0
        ? `${failedPvcs.length} of ${withWrites.length} PVC(s) failed: ${failedPvcs.map((pvc) => `${pvc.pvc}: ${pvc.message}`).join('; ')}`
        : `${withWrites.length} PVC(s) migrated`;
  return {
    runId: context.runId,
    status,
    message: cleanup.error ? `${message} (cleanup failed: ${cleanup.error})` : message,
    pvcs: withWrites,
    apiWrites: { total: context.writes.total(), shared: counts[SHARED] ?? 0, perPvc },
    cleanup,
  };
}
