// The controller's websocket schema (/progress), version 1. README documents it; the page reads it.
//   snapshot  first message on every connection, and again (resync: true) after a slow client fell
//             behind and its queued updates were dropped: replace all state with it.
//   update    one per agent event: the event as the agent sent it, the PVC's new state, the totals.
//   summary   the last message once the migration finished; the server then closes with 1000.
import type { AgentEvent } from '../../contract/events.js';
import type { ProgressChange } from './aggregate.js';
import type { ProgressSnapshot, ProgressTotals, PvcState } from './pvc-state.js';

export const PROGRESS_SCHEMA_VERSION = 1;

export interface SnapshotMessage extends ProgressSnapshot {
  type: 'snapshot';
  version: typeof PROGRESS_SCHEMA_VERSION;
  resync: boolean;
}

export interface UpdateMessage {
  type: 'update';
  event: AgentEvent;
  pvc: PvcState;
  totals: ProgressTotals;
}

export interface SummaryMessage extends ProgressSnapshot {
  type: 'summary';
  version: typeof PROGRESS_SCHEMA_VERSION;
}

export type ProgressMessage = SnapshotMessage | UpdateMessage | SummaryMessage;

export function snapshotMessage(snapshot: ProgressSnapshot, resync = false): SnapshotMessage {
  return { type: 'snapshot', version: PROGRESS_SCHEMA_VERSION, resync, ...snapshot };
}

export function updateMessage(change: ProgressChange): UpdateMessage {
  return { type: 'update', event: change.event, pvc: change.pvc, totals: change.totals };
}

export function summaryMessage(snapshot: ProgressSnapshot): SummaryMessage {
  return { type: 'summary', version: PROGRESS_SCHEMA_VERSION, ...snapshot };
}
