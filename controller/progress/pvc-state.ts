// The per-PVC and whole-migration state every progress consumer (websocket, page, CLI, metrics)
// reads. Plain JSON: it goes on the wire as is.
import type { ProgressEvent } from '../../contract/events.js';

export type PvcPhase = 'Pending' | 'Running' | 'Retrying' | 'Succeeded' | 'Failed';
export type MigrationPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** What a PVC's state takes from the agent's latest progress event, as the event means it (bytes and
 * percent never decrease, also across attempts; percent reaches 100 only once the copy succeeded). */
type ProgressFields = Pick<ProgressEvent, 'bytes' | 'totalBytes' | 'percent' | 'rateBps' | 'etaSeconds' | 'files' | 'filesTotal' | 'elapsedMs'>;

export interface PvcState extends ProgressFields {
  /** As it appears in events: "namespace/name" in cluster mode, a plain label in local mode. */
  pvc: string;
  /** "" when the id carries no namespace (local mode). */
  namespace: string;
  name: string;
  state: PvcPhase;
  /** The attempt running now (or the last one); 0 before the first. */
  attempt: number;
  /** Attempts made so far. */
  attempts: number;
  exitCode: number | null;
  /** Why the last attempt failed, or the result's message. "" when there is nothing to say. */
  message: string;
  /** null until a verify pass reported. */
  verified: boolean | null;
  /** Set while Retrying: when the next attempt starts. */
  retryInMs: number | null;
  /** From the result event. */
  durationMs: number | null;
  /** Epoch ms of the last change. */
  updatedAt: number;
}

export interface ProgressTotals {
  state: MigrationPhase;
  pvcs: number;
  pending: number;
  running: number;
  retrying: number;
  succeeded: number;
  failed: number;
  bytes: number;
  totalBytes: number;
  /** Never decreases; 100 only when every PVC succeeded. */
  percent: number;
  rateBps: number;
  /** The longest ETA of the PVCs still copying; null when unknown (a PVC has not started or has none). */
  etaSeconds: number | null;
  files: number;
  filesTotal: number;
  attempts: number;
  /** Epoch ms the aggregate was created. */
  startedAt: number;
  /** Epoch ms of finish(), null before. */
  finishedAt: number | null;
  elapsedMs: number;
}

export interface ProgressSnapshot {
  pvcs: PvcState[];
  totals: ProgressTotals;
  finished: boolean;
  /** Set by finish(message), e.g. why a migration was aborted. */
  message?: string;
}

export function splitPvcId(pvc: string): { namespace: string; name: string } {
  const slash = pvc.indexOf('/');
  if (slash <= 0) return { namespace: '', name: pvc };
  return { namespace: pvc.slice(0, slash), name: pvc.slice(slash + 1) };
}

export function pendingPvc(pvc: string, now: number): PvcState {
  return {
    pvc,
    ...splitPvcId(pvc),
    state: 'Pending',
    bytes: 0,
    totalBytes: 0,
    percent: 0,
    rateBps: 0,
    etaSeconds: null,
    files: 0,
    filesTotal: 0,
    attempt: 0,
    attempts: 0,
    exitCode: null,
    message: '',
    verified: null,
    retryInMs: null,
    elapsedMs: 0,
    durationMs: null,
    updatedAt: now,
  };
}

export function isTerminal(state: PvcPhase): boolean {
  return state === 'Succeeded' || state === 'Failed';
}
