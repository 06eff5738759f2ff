// Pure state transitions: one agent event in, the PVC's next state out; and the totals over all PVCs.
// Counters only move forward, so a reconnecting agent or a retried attempt never shows a step back.
import type { AgentEvent } from '../../contract/events.js';
import { isTerminal, type MigrationPhase, type PvcState, type ProgressTotals } from './pvc-state.js';

const MAX_PERCENT_BEFORE_SUCCESS = 99.9;

function finite(value: number, fallback = 0): number {
  return Number.isFinite(value) ? value : fallback;
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, finite(value)));
}

export function reducePvc(prev: PvcState, event: AgentEvent, now: number): PvcState {
  // A PVC that has its result keeps it: late progress from a dying attempt must not reopen it.
  if (isTerminal(prev.state)) return prev;
  switch (event.type) {
    case 'progress':
      return {
        ...prev,
        state: 'Running',
        bytes: Math.max(prev.bytes, finite(event.bytes)),
        totalBytes: finite(event.totalBytes, prev.totalBytes),
        percent: Math.max(prev.percent, Math.min(clampPercent(event.percent), MAX_PERCENT_BEFORE_SUCCESS)),
        rateBps: Math.max(0, finite(event.rateBps)),
        etaSeconds: event.etaSeconds === null ? null : Math.max(0, finite(event.etaSeconds)),
        files: Math.max(prev.files, finite(event.files)),
        filesTotal: finite(event.filesTotal, prev.filesTotal),
        attempt: Math.max(prev.attempt, event.attempt),
        attempts: Math.max(prev.attempts, event.attempt),
        // A new attempt that makes progress clears the previous attempt's complaint.
        message: prev.state === 'Retrying' ? '' : prev.message,
        retryInMs: null,
        elapsedMs: finite(event.elapsedMs, prev.elapsedMs),
        updatedAt: now,
      };
    case 'attempt':
      return {
        ...prev,
        // retryInMs null means no further attempt: the result event that follows settles the state.
        state: event.retryInMs === null ? (prev.state === 'Pending' ? 'Running' : prev.state) : 'Retrying',
        attempt: Math.max(prev.attempt, event.attempt),
        attempts: Math.max(prev.attempts, event.attempt),
        exitCode: event.exitCode,
        message: event.reason,
        retryInMs: event.retryInMs,
        rateBps: 0,
        etaSeconds: null,
        updatedAt: now,
      };
    case 'result': {
      const succeeded = event.status === 'Succeeded';
      return {
        ...prev,
        state: event.status,
        bytes: Math.max(prev.bytes, finite(event.bytes)),
        percent: succeeded ? 100 : prev.percent,
        files: Math.max(prev.files, finite(event.files)),
        filesTotal: succeeded ? Math.max(prev.filesTotal, finite(event.files)) : prev.filesTotal,
        totalBytes: succeeded && prev.totalBytes === 0 ? finite(event.bytes) : prev.totalBytes,
        rateBps: 0,
        etaSeconds: succeeded ? 0 : null,
        attempts: Math.max(prev.attempts, finite(event.attempts)),
        attempt: Math.max(prev.attempt, finite(event.attempts)),
        exitCode: event.exitCode,
        message: event.message,
        verified: event.verified,
        retryInMs: null,
        durationMs: finite(event.durationMs),
        updatedAt: now,
      };
    }
  }
}

function migrationPhase(counts: Pick<ProgressTotals, 'pvcs' | 'pending' | 'succeeded' | 'failed'>): MigrationPhase {
  if (counts.pvcs > 0 && counts.succeeded + counts.failed === counts.pvcs) {
    return counts.failed > 0 ? 'Failed' : 'Succeeded';
  }
  if (counts.pending === counts.pvcs) return 'Pending';
  return 'Running';
}

/** Weighted by size once every unfinished PVC knows its size; until then each PVC weighs the same. */
function overallPercent(pvcs: readonly PvcState[]): number {
  if (pvcs.length === 0) return 0;
  const sizesKnown = pvcs.every((p) => p.totalBytes > 0 || isTerminal(p.state));
  const totalWeight = sizesKnown ? pvcs.reduce((sum, p) => sum + p.totalBytes, 0) : 0;
  if (totalWeight > 0) {
    return pvcs.reduce((sum, p) => sum + p.percent * p.totalBytes, 0) / totalWeight;
  }
  return pvcs.reduce((sum, p) => sum + p.percent, 0) / pvcs.length;
}

function overallEta(pvcs: readonly PvcState[]): number | null {
  let eta = 0;
  for (const p of pvcs) {
    if (isTerminal(p.state)) continue;
    if (p.state !== 'Running' || p.etaSeconds === null) return null;
    eta = Math.max(eta, p.etaSeconds);
  }
  return eta;
}

export interface TotalsClock {
  startedAt: number;
  finishedAt: number | null;
  now: number;
  /** The percent last reported, so the total never steps back either. */
  previousPercent: number;
}

export function computeTotals(pvcs: readonly PvcState[], clock: TotalsClock): ProgressTotals {
  const count = (state: PvcState['state']) => pvcs.filter((p) => p.state === state).length;
  const sum = (pick: (p: PvcState) => number) => pvcs.reduce((total, p) => total + pick(p), 0);
  const counts = {
    pvcs: pvcs.length,
    pending: count('Pending'),
    running: count('Running'),
    retrying: count('Retrying'),
    succeeded: count('Succeeded'),
    failed: count('Failed'),
  };
  const allSucceeded = counts.pvcs > 0 && counts.succeeded === counts.pvcs;
  const allSettled = counts.pvcs > 0 && counts.succeeded + counts.failed === counts.pvcs;
  const percent = allSucceeded ? 100 : Math.max(clock.previousPercent, Math.min(overallPercent(pvcs), MAX_PERCENT_BEFORE_SUCCESS));
  return {
    state: migrationPhase(counts),
    ...counts,
    bytes: sum((p) => p.bytes),
    totalBytes: sum((p) => p.totalBytes),
    percent,
    rateBps: sum((p) => (p.state === 'Running' ? p.rateBps : 0)),
    etaSeconds: allSucceeded ? 0 : allSettled ? null : overallEta(pvcs),
    files: sum((p) => p.files),
    filesTotal: sum((p) => p.filesTotal),
    attempts: sum((p) => p.attempts),
    startedAt: clock.startedAt,
    finishedAt: clock.finishedAt,
    elapsedMs: (clock.finishedAt ?? clock.now) - clock.startedAt,
  };
}
