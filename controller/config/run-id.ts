// Run ids are label values (directvolumemigration=<run id>) and appear in object names.
import { randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

export function labelSafeRunId(runId: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(runId)) {
    throw new ConfigError(`run id "${runId}": must be lowercase letters, digits and -, at most 63`);
  }
  return runId;
}
