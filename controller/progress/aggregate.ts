// The migration's progress in one place: agent events in, per-PVC state and totals out.
// Consumers (websocket server, CLI view, metrics) listen to 'change' and 'finished'.
import { EventEmitter } from 'node:events';
import type { AgentEvent } from '../../contract/events.js';
import { pendingPvc, type ProgressSnapshot, type ProgressTotals, type PvcState } from './pvc-state.js';
import { computeTotals, reducePvc } from './reduce.js';

export type { PvcState, ProgressTotals, ProgressSnapshot, PvcPhase, MigrationPhase } from './pvc-state.js';

/** What 'change' carries: the event as the agent sent it, and the state it produced. */
export interface ProgressChange {
  event: AgentEvent;
  pvc: PvcState;
  totals: ProgressTotals;
}

export interface ProgressAggregateEvents {
  change: [ProgressChange];
  finished: [ProgressSnapshot];
}

export interface ProgressAggregateOptions {
  now?: () => number;
}

export class ProgressAggregate extends EventEmitter<ProgressAggregateEvents> {
  private readonly pvcs = new Map<string, PvcState>();
  private readonly now: () => number;
  private readonly startedAt: number;
  private finishedAt: number | null = null;
  private finishMessage: string | undefined;
  private lastPercent = 0;

  constructor(pvcs: string[], options: ProgressAggregateOptions = {}) {
    super();
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    for (const pvc of pvcs) this.pvcs.set(pvc, pendingPvc(pvc, this.startedAt));
  }

  get finished(): boolean {
    return this.finishedAt !== null;
  }

  /** Events after finish() are ignored: the summary already went out. */
  apply(event: AgentEvent): void {
    if (this.finished) return;
    const now = this.now();
    const prev = this.pvcs.get(event.pvc) ?? pendingPvc(event.pvc, now);
    const next = reducePvc(prev, event, now);
    this.pvcs.set(event.pvc, next);
    const totals = this.totals();
    this.emit('change', { event, pvc: next, totals });
  }

  /** Adds PVCs as Pending, or starts known ones over: for an aggregate that outlives one run (dvm
   * controller's, over every DirectVolumeMigration it drives) when a run starts. The total percent
   * may then go down: it is over a different set of copies. */
  track(pvcs: readonly string[]): void {
    const now = this.now();
    for (const pvc of pvcs) this.pvcs.set(pvc, pendingPvc(pvc, now));
    this.lastPercent = 0;
  }

  /** Removes PVCs whose migration is gone (its resource was deleted). */
  forget(pvcs: readonly string[]): void {
    for (const pvc of pvcs) this.pvcs.delete(pvc);
    this.lastPercent = 0;
  }

  totals(): ProgressTotals {
    const totals = computeTotals([...this.pvcs.values()], {
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      now: this.now(),
      previousPercent: this.lastPercent,
    });
    this.lastPercent = totals.percent;
    return totals;
  }

  snapshot(): ProgressSnapshot {
    const snapshot: ProgressSnapshot = {
      pvcs: [...this.pvcs.values()],
      totals: this.totals(),
      finished: this.finished,
    };
    if (this.finishMessage !== undefined) snapshot.message = this.finishMessage;
    return snapshot;
  }

  /** Marks the migration over (idempotent); `message` says why when it ended early. */
  finish(message?: string): void {
    if (this.finished) return;
    this.finishedAt = this.now();
    this.finishMessage = message;
    this.emit('finished', this.snapshot());
  }
}
