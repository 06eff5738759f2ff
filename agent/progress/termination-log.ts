// The final result goes to the container's termination-message file, where the controller reads
// it from the pod status. Kubernetes keeps at most 4096 bytes of it.
import { writeFileSync } from 'node:fs';
import type { ResultEvent } from '../../contract/events.js';

const TERMINATION_MESSAGE_LIMIT = 4096;

export function writeTerminationLog(path: string, result: ResultEvent): string | null {
  let text = JSON.stringify(result);
  if (Buffer.byteLength(text) > TERMINATION_MESSAGE_LIMIT) {
    text = JSON.stringify({ ...result, message: result.message.slice(0, 1000) });
  }
  try {
    writeFileSync(path, text);
    return null;
  } catch (error) {
    return `cannot write termination log ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
}
