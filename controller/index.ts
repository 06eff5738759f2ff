// The typed library API of the dvm controller, for a migration controller to import. The CLI
// (controller/cli/cluster.ts) is a thin shell over these.
//
//   const run = startMigration({ spec, settings, clusters });   // run.progress, run.onEvent, run.result, run.cancel()
//   const result = await runMigration(spec, settings, clusters, (event) => ...);   // the same, awaited
//   const objects = render({ spec, settings });
//   await cleanup(clusters, runId);
//   const existing = await status(clusters, runId);
import type { Logger } from 'pino';
import { connectCluster, type Cluster, type ClusterRef } from './cluster/connection.js';
import { controllerSettingsSchema, type ControllerSettings, type ControllerSettingsInput } from './config/settings.js';
import { migrationSpecSchema, type MigrationSpec, type MigrationSpecInput } from './config/spec.js';
import { parseSettings, parseSpec } from './config/load.js';
import { renderRun, type RenderInput, type RenderedRun } from './manifests/render.js';
import { cleanupRun, type CleanupCounts } from './migration/cleanup.js';
import type { Clusters } from './migration/context.js';
import type { EventSink, MigrationResult } from './migration/events.js';
import { startMigration as startRun, type MigrationHandle } from './migration/handle.js';
import { labelSafeRunId, newRunId } from './config/run-id.js';
import { runStatus, type RunStatus } from './migration/status.js';

export { ConfigError } from './config/errors.js';
export { loadSettings, loadSpecFile, parseSettings, parseSpec } from './config/load.js';
export type { ControllerSettings, ControllerSettingsInput, EndpointType } from './config/settings.js';
export type { MigrationSpec, MigrationSpecInput } from './config/spec.js';
export type { Cluster, ClusterRef } from './cluster/connection.js';
export type { Clusters } from './migration/context.js';
export type { ControllerEvent, EventSink, MigrationResult, PvcSummary, PhaseEvent, PodEvent } from './migration/events.js';
export type { RenderedRun, KubeObject } from './manifests/render.js';
export type { RunStatus } from './migration/status.js';
export type { MigrationHandle } from './migration/handle.js';
export { ProgressAggregate } from './progress/aggregate.js';
export type { ProgressChange, ProgressSnapshot, ProgressTotals, PvcState } from './progress/aggregate.js';
export { labelSafeRunId, newRunId };

export interface ClusterRefs {
  source: ClusterRef;
  destination: ClusterRef;
}

/** Connects both sides (kubeconfig conventions; no request is made yet). */
export function connectClusters(refs: ClusterRefs): Clusters {
  return { source: connectCluster(refs.source, 'source'), destination: connectCluster(refs.destination, 'destination') };
}

function isConnected(value: Clusters | ClusterRefs): value is Clusters {
  return (value.source as Cluster).objects !== undefined;
}

export interface MigrationOptions {
  runId?: string;
  signal?: AbortSignal;
  log?: Logger;
  /** See MigrationInput in migration/handle.ts (default true). */
  removeStaleRuns?: boolean;
}

export interface StartMigrationInput extends MigrationOptions {
  /** Raw (a CR body or its `spec`) or already parsed. */
  spec: MigrationSpec | MigrationSpecInput | unknown;
  settings?: ControllerSettings | ControllerSettingsInput | unknown;
  clusters: Clusters | ClusterRefs;
}

/** Starts a migration and returns its handle: run id, progress aggregate, events, result, cancel.
 * Throws ConfigError at once for a spec or settings that do not parse; the result rejects with a
 * ConfigError (nothing created) when preflight refuses a PVC or a cluster. */
export function startMigration(input: StartMigrationInput): MigrationHandle {
  const parsedSpec = parseSpec(input.spec);
  const settings = parseSettings(input.settings ?? {});
  const runId = input.runId ?? parsedSpec.suggestedRunId;
  return startRun({
    spec: parsedSpec.spec,
    settings,
    clusters: isConnected(input.clusters) ? input.clusters : connectClusters(input.clusters),
    ...(runId !== undefined ? { runId: labelSafeRunId(runId) } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.log ? { log: input.log } : {}),
    ...(input.removeStaleRuns !== undefined ? { removeStaleRuns: input.removeStaleRuns } : {}),
  });
}

/** Runs a migration (startMigration, awaited). Spec and settings may be raw (CR bodies or their
 * `spec`) or already parsed. Throws ConfigError (nothing created) for bad input or unreachable
 * clusters; otherwise resolves with the result, after everything the run created has been deleted
 * from both clusters. */
export async function runMigration(
  spec: MigrationSpec | MigrationSpecInput | unknown,
  settings: ControllerSettings | ControllerSettingsInput | unknown,
  clusters: Clusters | ClusterRefs,
  onEvent?: EventSink,
  options: MigrationOptions = {},
): Promise<MigrationResult> {
  const run = startMigration({ ...options, spec, settings, clusters });
  if (onEvent) run.onEvent(onEvent);
  return run.result;
}

export interface RenderOptions extends Omit<RenderInput, 'spec' | 'settings' | 'runId'> {
  spec: unknown;
  settings?: unknown;
  runId?: string;
}

/** Every object a run would create, without touching a cluster. */
export function render(options: RenderOptions): RenderedRun {
  const parsedSpec = parseSpec(options.spec);
  const runId = labelSafeRunId(options.runId ?? parsedSpec.suggestedRunId ?? newRunId());
  return renderRun({ ...options, runId, spec: parsedSpec.spec, settings: parseSettings(options.settings ?? {}) });
}

/** Deletes every object labelled with the run on both clusters and waits until they are gone. */
export function cleanup(clusters: Clusters | ClusterRefs, runId: string): Promise<CleanupCounts> {
  return cleanupRun(isConnected(clusters) ? clusters : connectClusters(clusters), runId);
}

/** Objects labelled with the run (every dvm object without a run id) on both clusters. */
export function status(clusters: Clusters | ClusterRefs, runId?: string): Promise<RunStatus> {
  return runStatus(isConnected(clusters) ? clusters : connectClusters(clusters), runId);
}

export { controllerSettingsSchema, migrationSpecSchema };
