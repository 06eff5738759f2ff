// The end of a copy, the same for files and block devices: one result event from the tracker's
// figures, published to every listener and left in the termination log for the controller.
import type { Logger } from '../log.js';
import type { ResultEvent } from '../../contract/events.js';
import type { EventPublisher } from './publisher.js';
import { writeTerminationLog } from './termination-log.js';
import type { ProgressTracker } from './tracker.js';

export interface RunOutcome {
  succeeded: boolean;
  exitCode: number;
  verified: boolean | null;
  attempts: number;
  message: string;
}

export function publishResult(
  pvc: string,
  terminationLog: string,
  tracker: ProgressTracker,
  publisher: EventPublisher,
  startedAt: number,
  outcome: RunOutcome,
  log: Logger,
): ResultEvent {
  const result: ResultEvent = {
    type: 'result',
    pvc,
    status: outcome.succeeded ? 'Succeeded' : 'Failed',
    exitCode: outcome.exitCode,
    bytes: tracker.transferredBytes,
    files: tracker.checkedFiles,
    durationMs: Date.now() - startedAt,
    verified: outcome.verified,
    attempts: outcome.attempts,
    message: outcome.message,
  };
  publisher.publish(result);
  const logProblem = writeTerminationLog(terminationLog, result);
  if (logProblem) log.warn(logProblem);
  return result;
}

/** The result of a copy that could not start (bad config, unreadable TLS files, no source): printed
 * and left in the termination log like any other, so the controller learns why. */
export function reportSetupFailure(pvc: string, terminationLog: string, message: string): void {
  const result: ResultEvent = {
    type: 'result',
    pvc,
    status: 'Failed',
    exitCode: 1,
    bytes: 0,
    files: 0,
    durationMs: 0,
    verified: null,
    attempts: 0,
    message,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  writeTerminationLog(terminationLog, result);
}
