// What an rsync exit code means for the migration (docs/contracts.md): succeed, retry, or stop now.

export type ExitClass = 'ok' | 'ok-with-warning' | 'retry' | 'fail';

// 20 reaches the client when the far rsync was signalled: a destination agent stopping or its pod
// being evicted. That is an interruption like a lost connection, so it is retried too (our own
// interruption never is: the client stops retrying once it is itself aborted).
const RETRYABLE = new Set([10, 12, 20, 30, 35, 255]);

const DESCRIPTIONS: Record<number, string> = {
  0: 'success',
  1: 'syntax or usage error',
  2: 'protocol incompatibility',
  3: 'errors selecting input/output files or directories',
  4: 'requested action not supported',
  5: 'error starting client-server protocol',
  10: 'error in socket I/O',
  11: 'error in file I/O (is the destination full?)',
  12: 'error in rsync protocol data stream (connection lost?)',
  20: 'received SIGUSR1 or SIGINT',
  23: 'partial transfer due to error',
  24: 'partial transfer due to vanished source files',
  25: 'the --max-delete limit stopped deletions',
  30: 'timeout in data send/receive',
  35: 'timeout waiting for daemon connection',
  255: 'unexplained error (connection lost?)',
};

export function classifyExitCode(code: number): ExitClass {
  if (code === 0) return 'ok';
  if (code === 24) return 'ok-with-warning';
  if (RETRYABLE.has(code)) return 'retry';
  return 'fail';
}

export function describeExitCode(code: number): string {
  return DESCRIPTIONS[code] ?? `rsync exit code ${code}`;
}
