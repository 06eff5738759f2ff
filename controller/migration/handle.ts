// A started migration, as its callers hold it: the run id, the run's own progress aggregate (fed
// with every agent event, finished with the result), a stream of every controller event, the result,
// and cancel(). The CLI and the Kubernetes controller are both thin shells over this.
//
//   const run = startMigration({ spec, settings, clusters });
//   run.onEvent((event) => ...);            // phases, pods, agent events; in order
//   run.progress.on('change', ...);         // or snapshot(): per-PVC state and totals
//   const result = await run.result;        // after the run's objects were deleted from both clusters
//   run.cancel();                           // abort: the result is then 'Aborted'
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { isAgentEvent } from '../../contract/events.js';
import type { ControllerSettings } from '../config/settings.js';
import { pvcKey, pvcPairs, type MigrationSpec } from '../config/spec.js';
import { newRunId } from '../config/run-id.js';
import { ProgressAggregate } from '../progress/aggregate.js';
import type { Clusters } from './context.js';
import type { ControllerEvent, EventSink, MigrationResult } from './events.js';
import { runMigration as runPhases } from './run.js';

export interface MigrationInput {
  spec: MigrationSpec;
  settings: ControllerSettings;
  clusters: Clusters;
  /** Label value of everything the run creates (default: random). */
  runId?: string;
  log?: Logger;
  /** Also cancels the run (like cancel()). */
  signal?: AbortSignal;
  /** Delete the objects of other runs in the run's namespaces first (default true: a single-run
   * command cleans up after a killed predecessor). A controller running several migrations at once
   * sets false and cleans up each of its runs by run id instead. */
  removeStaleRuns?: boolean;
}

export interface MigrationHandle {
  readonly runId: string;
  /** Every PVC of the spec from the start (Pending), then as the agents report. Finished when the
   * result is known; left unfinished when the run never started (result rejected). */
  readonly progress: ProgressAggregate;
  /** Subscribes to every event of the run, in order; returns the unsubscribe function. */
  onEvent(listener: EventSink): () => void;
  /** Resolves once the run is over and its objects are gone. Rejects with a ConfigError, with nothing
   * created, when preflight refuses the input or a cluster. */
  readonly result: Promise<MigrationResult>;
  /** Aborts the run (idempotent): pods stop, everything labelled with the run is deleted. */
  cancel(): void;
}

export function startMigration(input: MigrationInput): MigrationHandle {
  const runId = input.runId ?? newRunId();
  const progress = new ProgressAggregate(pvcPairs(input.spec).map((pair) => pvcKey(pair.source)));
  const events = new EventEmitter<{ event: [ControllerEvent] }>();
  const abort = new AbortController();
  const cancel = () => abort.abort();
  if (input.signal?.aborted) cancel();
  input.signal?.addEventListener('abort', cancel, { once: true });
  const emit: EventSink = (event) => {
    if (isAgentEvent(event)) progress.apply(event);
    events.emit('event', event);
  };
  // Started on the next microtask: the caller subscribes first and misses no event, not even the
  // first phase, which the run emits before its first await.
  const result = Promise.resolve()
    .then(() =>
      runPhases(input.spec, input.settings, input.clusters, emit, {
        runId,
        signal: abort.signal,
        ...(input.log ? { log: input.log } : {}),
        ...(input.removeStaleRuns !== undefined ? { removeStaleRuns: input.removeStaleRuns } : {}),
      }),
    )
    .then((outcome) => {
      progress.finish(outcome.message);
      return outcome;
    })
    .finally(() => input.signal?.removeEventListener('abort', cancel));
  return {
    runId,
    progress,
    onEvent: (listener) => {
      events.on('event', listener);
      return () => events.off('event', listener);
    },
    result,
    cancel,
  };
}
