// Judges one rsync attempt from its exit code, what it printed, and what the tunnel reported.
import { isPermanentTunnelFailure, type TunnelStatus } from '../tunnel/tunnel-error.js';
import { classifyExitCode, describeExitCode, type ExitClass } from './exit-codes.js';

export interface AttemptOutcome {
  verdict: ExitClass;
  reason: string;
}

/** What a destination agent without root cannot do to the volume's root directory, which it does not
 * own (root, group fsGroup, mode 2775 on a fresh PVC): set its times, mode, group or owner. rsync
 * reports each as an error and exits 23, although every file arrived. */
const ROOT_ATTRIBUTE_FAILURE =
  /^rsync: \[generator\] (?:failed to set (?:times|permissions) on|ch(?:grp|own)) "(?:[^"]*\/)?\."(?: \(in [^)]*\))?(?: failed)?: Operation not permitted \(1\)$/;
/** A full server agent (rsync/daemon-request.ts daemonBusyReply): rsync exits 5, and it is worth
 * another try once a connection has ended. */
const SERVER_FULL = /^@ERROR: max connections \(\d+\) reached/;
const PARTIAL_TRANSFER_SUMMARY = /^rsync error: some files\/attrs were not transferred/;

export const ROOT_ATTRIBUTES_LEFT_ALONE =
  "the destination volume's root directory keeps its own owner, group, mode and times (the destination agent does not run as root and does not own it); everything below it was copied";

/** Exit 23 where the only errors are the volume root's attributes: the copy is complete. */
export function onlyRootAttributesFailed(exitCode: number, errors: readonly string[], truncated: boolean): boolean {
  if (exitCode !== 23 || truncated) return false;
  const failures = errors.filter((line) => !PARTIAL_TRANSFER_SUMMARY.test(line));
  return failures.length > 0 && failures.every((line) => ROOT_ATTRIBUTE_FAILURE.test(line.trim()));
}

export function judgeAttempt(
  exitCode: number,
  messages: readonly string[],
  tunnel: TunnelStatus | null,
  errors: { lines: readonly string[]; truncated: boolean } = { lines: [], truncated: true },
): AttemptOutcome {
  if (onlyRootAttributesFailed(exitCode, errors.lines, errors.truncated)) return { verdict: 'ok-with-warning', reason: ROOT_ATTRIBUTES_LEFT_ALONE };
  if (exitCode !== 0 && tunnel) {
    return { verdict: isPermanentTunnelFailure(tunnel.kind) ? 'fail' : 'retry', reason: tunnel.message };
  }
  if (exitCode !== 0 && messages.some((line) => SERVER_FULL.test(line))) {
    return {
      verdict: 'retry',
      reason: `the server had no room for another connection (rsync exit ${exitCode}: ${messages.find((line) => SERVER_FULL.test(line))!.trim()})`,
    };
  }
  const rsyncSaid = messages.filter((line) => /^rsync(: | error:)|^@ERROR/.test(line));
  if (exitCode === 11 || messages.some((line) => /No space left on device|ENOSPC/.test(line))) {
    if (exitCode !== 0)
      return { verdict: 'fail', reason: `the destination is full (No space left on device, rsync exit ${exitCode}); free or grow the destination volume` };
  }
  const verdict = classifyExitCode(exitCode);
  const detail = rsyncSaid.slice(-3).join(' | ');
  const reason = `rsync exit ${exitCode}: ${describeExitCode(exitCode)}${detail ? ` — ${detail}` : ''}`;
  return { verdict, reason };
}
