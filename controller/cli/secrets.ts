// The proxy URL (with its password) and the progress token of `dvm migrate` (local and between
// clusters alike) come from a flag (seen by every user in ps), a file (--proxy-file, --token-file)
// or the environment (DVM_PROXY, DVM_TOKEN), in that order of precedence; a flag and its file
// together are bad input. Between clusters any of them overrides the settings file's
// stunnel_tcp_proxy. Errors name where the value came from, never the value.
import { InputTooLargeError, readBoundedText } from '../../contract/input-file.js';
import { parseProxyUrl } from '../../contract/proxy-url.js';
import { ConfigError } from '../config/errors.js';

/** The environment variables the proxy URL and the progress token may come from. */
export const PROXY_ENV = 'DVM_PROXY';
export const TOKEN_ENV = 'DVM_TOKEN';

export interface SecretFlags {
  proxy?: string;
  proxyFile?: string;
  token?: string;
  tokenFile?: string;
}

export interface CliSecrets {
  proxy?: ResolvedSecret;
  token?: string;
}

/** Both secrets of `dvm migrate`, the proxy URL checked here so that a bad one is named by where it
 * came from ("--proxy-file FILE: must be a URL ..."), not echoed. */
export function resolveCliSecrets(flags: SecretFlags, env: NodeJS.ProcessEnv = process.env): CliSecrets {
  const proxy = resolveSecret({ flag: '--proxy', flagValue: flags.proxy, fileFlag: '--proxy-file', file: flags.proxyFile, envName: PROXY_ENV }, env);
  const token = resolveSecret({ flag: '--token', flagValue: flags.token, fileFlag: '--token-file', file: flags.tokenFile, envName: TOKEN_ENV }, env);
  if (proxy) {
    try {
      parseProxyUrl(proxy.value);
    } catch (error) {
      throw new ConfigError(`${proxy.from} (stunnel_tcp_proxy): ${(error as Error).message}`);
    }
  }
  return { ...(proxy ? { proxy } : {}), ...(token ? { token: token.value } : {}) };
}

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
