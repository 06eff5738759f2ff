// What a migration reports to its caller: the agents' own events (progress/attempt/result, exactly
// one result per PVC) and the controller's phases.
import type { AgentEvent, ResultStatus } from '../../contract/events.js';
import type { WorkloadRef } from '../manifests/workloads.js';
import type { ProgressSource } from './client-progress.js';

export type MigrationPhaseName =
  'preflight' | 'stale-cleanup' | 'destination' | 'servers' | 'quiesce' | 'quiesce-wait' | 'clients' | 'cleanup' | 'unquiesce' | 'done';

export interface PhaseEvent {
  type: 'phase';
  phase: MigrationPhaseName;
  message: string;
  /** quiesce: every workload the run holds quiesced; unquiesce: what it put back. */
  workloads?: WorkloadRef[];
}

/** A client pod of a PVC was created (attempt n) or ended. */
export interface PodEvent {
  type: 'pod';
  pvc: string;
  pod: string;
  podAttempt: number;
  state: 'created' | 'running' | 'terminated' | 'lost';
  /** How the controller reads this pod's progress. */
  progressSource?: ProgressSource;
  message?: string;
}

export type ControllerEvent = AgentEvent | PhaseEvent | PodEvent;
export type EventSink = (event: ControllerEvent) => void;

export interface PvcSummary {
  pvc: string;
  target: string;
  status: ResultStatus;
  exitCode: number;
  bytes: number;
  files: number;
  durationMs: number;
  /** rsync attempts inside the last pod, as the agent counted them. */
  attempts: number;
  /** Client pods created for this PVC (more than one when a pod was lost). */
  podAttempts: number;
  verified: boolean | null;
  message: string;
  /** API writes the controller made for this PVC alone. */
  apiWrites: number;
  progressSource?: ProgressSource;
}

export interface MigrationResult {
  runId: string;
  status: 'Succeeded' | 'Failed' | 'Aborted';
  message: string;
  pvcs: PvcSummary[];
  apiWrites: { total: number; shared: number; perPvc: Record<string, number> };
  cleanup: { source: number; destination: number; error?: string };
  /** With quiescePods: what the run quiesced, and what it put back because the copy did not succeed
   * (a CutOver that succeeded leaves its applications stopped on the source, as MTC does). */
  quiesce?: { held: WorkloadRef[]; restored: WorkloadRef[]; error?: string };
}
