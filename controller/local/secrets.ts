// The proxy URL (with its password) and the progress token of `dvm migrate --local` come from a
// flag (seen by every user in ps), a file (--proxy-file, --token-file) or the environment
// (DVM_PROXY, DVM_TOKEN), in that order of precedence; a flag and its file together are bad input.
// Errors name where the value came from, never the value.
import { InputTooLargeError, readBoundedText } from '../../agent/read-bounded.js';
import { ConfigError } from '../config/errors.js';

const MAX_SECRET_BYTES = 64 * 1024;

export interface SecretSpec {
  /** --proxy */
  flag: string;
  flagValue: string | undefined;
  /** --proxy-file */
  fileFlag: string;
  file: string | undefined;
  /** DVM_PROXY */
  envName: string;
}

export interface ResolvedSecret {
  value: string;
  /** How an error names it: "--proxy", "--proxy-file FILE" or "DVM_PROXY". */
  from: string;
}

export function resolveSecret(spec: SecretSpec, env: NodeJS.ProcessEnv = process.env): ResolvedSecret | undefined {
  if (spec.flagValue !== undefined && spec.file !== undefined) {
    throw new ConfigError(`${spec.flag} and ${spec.fileFlag}: give one of them`);
  }
  if (spec.flagValue !== undefined) return { value: spec.flagValue, from: spec.flag };
  if (spec.file !== undefined) {
    const from = `${spec.fileFlag} ${spec.file}`;
    let text: string;
    try {
      text = readBoundedText(spec.file, spec.fileFlag, MAX_SECRET_BYTES);
    } catch (error) {
      if (error instanceof InputTooLargeError) throw new ConfigError(error.message);
      throw new ConfigError(`${from}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    // One line; the newline an editor or `echo` adds is not part of it.
    const value = text.trim();
    if (value === '') throw new ConfigError(`${from} is empty`);
    return { value, from };
  }
  const value = env[spec.envName];
  if (value !== undefined && value !== '') return { value, from: spec.envName };
  return undefined;
}
