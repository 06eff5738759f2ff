// `dvm migrate --local` flags, checked before anything is created: one error naming the flag (a
// ConfigError: the CLI exits 2, as for every bad input).
import { accessSync, constants, lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { hostPort } from '../../contract/agent-config.js';
import { rsyncSettingsSchema, type RsyncSettings } from '../../contract/rsync-settings.js';
import { proxySettingsSchema, type ProxySettings } from '../../contract/proxy-settings.js';
import { ConfigError } from '../config/errors.js';

export interface LocalFlags {
  proxy?: string;
  /** Where `proxy` came from, for errors: "--proxy" (default), "--proxy-file FILE", "DVM_PROXY". */
  proxySource?: string;
  noProxy?: string;
  bwlimit?: string;
  verify?: boolean;
  retries?: string;
  rsyncExtras?: string;
  progressListen?: string;
  listen?: string;
}

export interface LocalMigrationOptions {
  /** How progress names this copy: the source directory's name. */
  pvc: string;
  source: string;
  destination: string;
  settings: RsyncSettings & ProxySettings;
  verify: boolean;
  progressListen?: string;
  listen?: string;
}

/** Which flag feeds which settings key, so an error names what the user typed. */
const FLAG_FOR_KEY: Record<string, string> = {
  stunnel_tcp_proxy: '--proxy',
  noProxy: '--no-proxy',
  rsync_opt_bwlimit: '--bwlimit',
  rsync_backoff_limit: '--retries',
  rsync_opt_extras: '--rsync-extras',
};

export function parseLocalOptions(source: string | undefined, destination: string | undefined, flags: LocalFlags): LocalMigrationOptions {
  if (!source) throw new ConfigError('missing SRC: dvm migrate --local SRC DST');
  if (!destination) throw new ConfigError('missing DST: dvm migrate --local SRC DST');
  const src = resolve(source);
  const dst = resolve(destination);
  const srcStat = statSync(src, { throwIfNoEntry: false });
  if (!srcStat) throw new ConfigError(`SRC ${src} does not exist`);
  if (!srcStat.isDirectory()) throw new ConfigError(`SRC ${src} is not a directory`);
  const realDst = checkWritable(dst);
  checkNoOverlap(src, realpathSync(src), dst, realDst);

  const raw = {
    ...(flags.proxy !== undefined ? { stunnel_tcp_proxy: flags.proxy } : {}),
    ...(flags.noProxy !== undefined ? { noProxy: flags.noProxy } : {}),
    ...(flags.bwlimit !== undefined ? { rsync_opt_bwlimit: flags.bwlimit } : {}),
    ...(flags.retries !== undefined ? { rsync_backoff_limit: flags.retries } : {}),
    ...(flags.rsyncExtras !== undefined ? { rsync_opt_extras: flags.rsyncExtras } : {}),
  };
  const parsed = rsyncSettingsSchema.extend(proxySettingsSchema.shape).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? '');
    const flag = key === 'stunnel_tcp_proxy' && flags.proxySource ? flags.proxySource : (FLAG_FOR_KEY[key] ?? key);
    throw new ConfigError(`${flag} (${key}): ${issue?.message ?? 'invalid'}`);
  }
  for (const [flag, value] of [
    ['--progress-listen', flags.progressListen],
    ['--listen', flags.listen],
  ] as const) {
    if (value !== undefined && !hostPort.safeParse(value).success) throw new ConfigError(`${flag}: "${value}" is not host:port`);
  }
  return {
    pvc: basename(src) || 'local',
    source: src,
    destination: dst,
    settings: parsed.data,
    verify: flags.verify === true,
    ...(flags.progressListen ? { progressListen: flags.progressListen } : {}),
    ...(flags.listen ? { listen: flags.listen } : {}),
  };
}

/** DST may not exist yet (it is created), but the nearest existing ancestor must be a writable dir.
 * Returns where DST really is: that ancestor with symlinks resolved, plus the parts still to create. */
function checkWritable(dst: string): string {
  let probe = dst;
  const missing: string[] = [];
  // lstat, not exists: a dangling symlink exists, and mkdir would fail on it.
  while (!present(probe)) {
    const parent = dirname(probe);
    if (parent === probe) break;
    missing.unshift(basename(probe));
    probe = parent;
  }
  let real: string;
  try {
    real = realpathSync(probe);
  } catch (error) {
    throw new ConfigError(`DST ${dst} is not writable: ${probe} is a symlink to nowhere (${(error as NodeJS.ErrnoException).code ?? 'unresolvable'})`);
  }
  const stat = statSync(real);
  if (!stat.isDirectory()) throw new ConfigError(`DST ${dst} is not writable: ${probe} is not a directory`);
  try {
    accessSync(real, constants.W_OK);
  } catch (error) {
    throw new ConfigError(`DST ${dst} is not writable: ${(error as NodeJS.ErrnoException).code ?? 'access denied'} on ${probe}`);
  }
  return join(real, ...missing);
}

/** Whether anything (a dangling symlink too) is at path; a path below a file (ENOTDIR) is not. */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** SRC and DST must be disjoint trees once symlinks are resolved: rsync --delete into a DST that
 * holds SRC deletes the source while it is read; a DST inside SRC copies itself into itself. */
function checkNoOverlap(src: string, realSrc: string, dst: string, realDst: string): void {
  const shown = (given: string, real: string): string => (given === real ? given : `${given} (${real})`);
  if (realSrc === realDst) {
    throw new ConfigError(`SRC ${shown(src, realSrc)} and DST ${shown(dst, realDst)} are the same directory`);
  }
  if (isInside(realSrc, realDst)) {
    throw new ConfigError(
      `SRC ${shown(src, realSrc)} is inside DST ${shown(dst, realDst)}: the copy would delete or overwrite its own source (SRC and DST must not overlap)`,
    );
  }
  if (isInside(realDst, realSrc)) {
    throw new ConfigError(`DST ${shown(dst, realDst)} is inside SRC ${shown(src, realSrc)}: the copy would copy into itself (SRC and DST must not overlap)`);
  }
}

function isInside(child: string, parent: string): boolean {
  const path = relative(parent, child);
  return path !== '' && path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path);
}
