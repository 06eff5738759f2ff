// The optional verify pass: is the destination equal to the source? A checksum dry run through the
// same tunnel that compares the whole tree, whatever the copy was told: none of the user's filters,
// size or quick-check options, only what defines equality (archive, hard links, numeric ids,
// --checksum, and --delete so extra destination files show; xattrs/ACLs when the copy keeps them).
// rsync itemizes every entry that differs; none means the trees are equal. When they differ and
// the user's options limited the copy, the message says which.
import type { ClientConfig } from '../contract/agent-config.js';
import { copyLimits, keepsAcls, keepsXattrs, type RsyncSettings } from '../contract/rsync-settings.js';
import { sourceArg } from './rsync/client-argv.js';
import { parseProgress2Line } from './rsync/progress2.js';
import { runRsync } from './rsync/pty-runner.js';

const ITEMIZED = /^(\*deleting\s|[<>ch.][fdLDS][.+?a-zA-Z ]{9}\s)/;
/** The transfer root's own attributes (times, mode, owner, group) only: a destination agent without
 * root cannot set them on a volume it does not own and leaves them alone (rsync/outcome.ts), so
 * they are the volume's, not the data's. */
const ROOT_ATTRIBUTES_ONLY = /^\.d[.a-zA-Z ]{9}\s+\.\/$/;

/** Whether an rsync --itemize-changes line of the verify dry run is an entry that differs. */
export function isDifference(line: string): boolean {
  const trimmed = line.trim();
  return !parseProgress2Line(line) && ITEMIZED.test(trimmed) && !ROOT_ATTRIBUTES_ONLY.test(trimmed);
}
/** Differences quoted in the result message (it ends up in a termination message: keep it short). */
const SHOWN = 5;
const SHOWN_CHARS = 160;

export interface VerifyOptions {
  config: ClientConfig;
  env: NodeJS.ProcessEnv;
  destinationUrl: string;
  signal: AbortSignal;
}

export interface Verification {
  identical: boolean;
  message: string;
  /** How many entries differ (0 when identical or when the pass itself failed). */
  differing: number;
  /** The first itemized differences, as rsync printed them. */
  first: string[];
  /** The user's options that limited the copy (copyLimits), named when the trees differ. */
  limits: string[];
}

/** The verify argv: equality only, never the user's extras. */
export function buildVerifyArgv(settings: RsyncSettings, source: string, destinationUrl: string): string[] {
  return [
    '--archive',
    '--hard-links',
    '--numeric-ids',
    '--delete',
    ...(keepsXattrs(settings) ? ['--xattrs'] : []),
    ...(keepsAcls(settings) ? ['--acls'] : []),
    // The same plumbing as the copy: a full file list (exact hard links), no Nagle to our entry.
    '--no-inc-recursive',
    '--sockopts=TCP_NODELAY',
    '--checksum',
    '--dry-run',
    '--itemize-changes',
    sourceArg(source),
    destinationUrl,
  ];
}

export async function verifyCopy({ config, env, destinationUrl, signal }: VerifyOptions): Promise<Verification> {
  const first: string[] = [];
  let differing = 0;
  const limits = copyLimits(config.settings);
  const run = await runRsync({
    rsyncPath: config.rsyncPath,
    argv: buildVerifyArgv(config.settings, config.source, destinationUrl),
    env,
    signal,
    onLine: (line) => {
      if (!isDifference(line)) return;
      differing += 1;
      if (first.length < SHOWN) first.push(line.trim().slice(0, SHOWN_CHARS));
    },
  });
  if (run.exitCode !== 0 && run.exitCode !== 24) {
    return {
      identical: false,
      differing: 0,
      first: [],
      limits,
      message: `verify pass failed: rsync exit ${run.exitCode} ${run.messages.slice(-2).join(' | ')}`,
    };
  }
  if (differing > 0) {
    const why = limits.length > 0 ? ` — the copy was limited by ${describeLimits(limits)}, so the destination is not a full copy of the source` : '';
    return {
      identical: false,
      differing,
      first,
      limits,
      message: `verify: ${differing} entr${differing === 1 ? 'y differs' : 'ies differ'} from the source${why}; first: ${first.join('; ')}`,
    };
  }
  return { identical: true, differing: 0, first: [], limits, message: 'checksums match' };
}

/** "rsync_opt_extras \"--exclude=* --size-only\", rsync_opt_delete: false" */
function describeLimits(limits: string[]): string {
  const extras = limits.filter((limit) => limit.startsWith('-'));
  const settings = limits.filter((limit) => !limit.startsWith('-'));
  return [...(extras.length > 0 ? [`rsync_opt_extras "${extras.join(' ')}"`] : []), ...settings].join(', ');
}
