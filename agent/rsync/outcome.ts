// Judges one rsync attempt from its exit code, what it printed, and what the tunnel reported.
import { isPermanentTunnelFailure, type TunnelStatus } from '../tunnel/tunnel-error.js';
import { classifyExitCode, describeExitCode, type ExitClass } from './exit-codes.js';

export interface AttemptOutcome {
  verdict: ExitClass;
  reason: string;
}

export function judgeAttempt(exitCode: number, messages: readonly string[], tunnel: TunnelStatus | null): AttemptOutcome {
  if (exitCode !== 0 && tunnel) {
    return { verdict: isPermanentTunnelFailure(tunnel.kind) ? 'fail' : 'retry', reason: tunnel.message };
  }
  const rsyncSaid = messages.filter((line) => /^rsync(: | error:)|^@ERROR/.test(line));
  if (exitCode === 11 || messages.some((line) => /No space left on device|ENOSPC/.test(line))) {
    if (exitCode !== 0) return { verdict: 'fail', reason: `the destination is full (No space left on device, rsync exit ${exitCode}); free or grow the destination volume` };
  }
  const verdict = classifyExitCode(exitCode);
  const detail = rsyncSaid.slice(-3).join(' | ');
  const reason = `rsync exit ${exitCode}: ${describeExitCode(exitCode)}${detail ? ` — ${detail}` : ''}`;
  return { verdict, reason };
}
