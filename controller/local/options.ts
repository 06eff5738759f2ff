// `dvm migrate --local` flags, checked before anything is created: one error naming the flag.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { hostPort } from '../../agent/config.js';
import { rsyncSettingsSchema, type RsyncSettings } from '../../agent/rsync/options.js';
import { proxySettingsSchema, type ProxySettings } from '../../agent/tunnel/proxy-settings.js';

export interface LocalFlags {
  proxy?: string;
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
  if (!source) throw new Error('missing SRC: dvm migrate --local SRC DST');
  if (!destination) throw new Error('missing DST: dvm migrate --local SRC DST');
  const src = resolve(source);
  const dst = resolve(destination);
  const srcStat = statSync(src, { throwIfNoEntry: false });
  if (!srcStat) throw new Error(`SRC ${src} does not exist`);
  if (!srcStat.isDirectory()) throw new Error(`SRC ${src} is not a directory`);
  checkWritable(dst);
  if (src === dst) throw new Error('SRC and DST are the same directory');

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
    throw new Error(`${FLAG_FOR_KEY[key] ?? key} (${key}): ${issue?.message ?? 'invalid'}`);
  }
  for (const [flag, value] of [['--progress-listen', flags.progressListen], ['--listen', flags.listen]] as const) {
    if (value !== undefined && !hostPort.safeParse(value).success) throw new Error(`${flag}: "${value}" is not host:port`);
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

/** DST may not exist yet (it is created), but the nearest existing ancestor must be a writable dir. */
function checkWritable(dst: string): void {
  let probe = dst;
  while (!existsSync(probe)) {
    const parent = dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  const stat = statSync(probe);
  if (!stat.isDirectory()) throw new Error(`DST ${dst} is not writable: ${probe} is not a directory`);
  try {
    accessSync(probe, constants.W_OK);
  } catch (error) {
    throw new Error(`DST ${dst} is not writable: ${(error as NodeJS.ErrnoException).code ?? 'access denied'} on ${probe}`);
  }
}
