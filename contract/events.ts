// The progress contract (docs/contracts.md): one JSON object per websocket message and per stdout line.

export interface ProgressEvent {
  type: 'progress';
  pvc: string;
  attempt: number;
  /** Bytes rsync has sent so far in this migration (never decreases across attempts). */
  bytes: number;
  /** Size of the source data (regular files, hard links counted once). */
  totalBytes: number;
  /** Estimated completion, 0..100; reaches 100 only when the copy has succeeded. */
  percent: number;
  rateBps: number;
  etaSeconds: number | null;
  /** Entries rsync has checked so far, out of filesTotal. */
  files: number;
  filesTotal: number;
  elapsedMs: number;
}

export interface AttemptEvent {
  type: 'attempt';
  pvc: string;
  attempt: number;
  exitCode: number;
  reason: string;
  /** null when no further attempt will be made. */
  retryInMs: number | null;
}

export type ResultStatus = 'Succeeded' | 'Failed';

export interface ResultEvent {
  type: 'result';
  pvc: string;
  status: ResultStatus;
  exitCode: number;
  bytes: number;
  files: number;
  durationMs: number;
  /** true/false after a verify pass, null when none was asked for. */
  verified: boolean | null;
  attempts: number;
  message: string;
}

export type AgentEvent = ProgressEvent | AttemptEvent | ResultEvent;

/** One line of an agent's stdout, log or termination message; undefined when it is not an event. */
export function parseAgentEvent(text: string): AgentEvent | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    return isAgentEvent(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function isAgentEvent(value: unknown): value is AgentEvent {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return (type === 'progress' || type === 'attempt' || type === 'result') && typeof (value as { pvc?: unknown }).pvc === 'string';
}
