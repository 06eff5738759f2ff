// What every part of the reconciler shares while this process leads.
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/connection.js';
import type { ControllerSettings } from '../config/settings.js';
import type { ProgressAggregate } from '../progress/aggregate.js';
import type { EventRecorder } from './event-recorder.js';
import type { ActiveRuns } from './active-runs.js';

export interface OperatorContext {
  /** The cluster the controller runs against: DirectVolumeMigrations, their progress, Events, and
   * the side of a migration whose reference is left out. */
  local: Cluster;
  /** The MigrationController settings every migration runs with. */
  settings: ControllerSettings;
  log: Logger;
  recorder: EventRecorder;
  runs: ActiveRuns;
  /** Every run's agent events: what the progress page, websocket and /metrics show. */
  hub: ProgressAggregate;
  /** Minimum time between two status writes of one DVMP, and of one DVM. */
  progressIntervalMs: number;
  statusIntervalMs: number;
  /** Reconciles a DirectVolumeMigration again (after a run ended). */
  requeue(key: string): void;
}
