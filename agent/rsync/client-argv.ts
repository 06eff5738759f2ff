// The rsync client argv built from the rsync_opt_* settings (contract/rsync-settings.ts). The argv
// is an array handed to rsync directly: no shell ever sees a setting.
import { splitExtras, type RsyncSettings } from '../../contract/rsync-settings.js';

export interface ClientArgvInput {
  settings: RsyncSettings;
  source: string;
  /** rsync://127.0.0.1:port/module/: the client agent's entry (tunnel/rsync-entry.ts), which opens the tunnel. */
  destinationUrl: string;
}

/** The rsync client argv (without the program name). */
export function buildClientArgv({ settings, source, destinationUrl }: ClientArgvInput): string[] {
  const argv: string[] = [];
  if (settings.rsync_opt_archive) argv.push('--archive');
  if (settings.rsync_opt_hardlinks) argv.push('--hard-links');
  if (settings.rsync_opt_delete) argv.push('--delete');
  if (settings.rsync_opt_partial) argv.push('--partial');
  if (settings.rsync_opt_bwlimit > 0) argv.push(`--bwlimit=${settings.rsync_opt_bwlimit}`);
  // Owners are kept as numbers: the two clusters' user databases have nothing in common.
  argv.push('--numeric-ids');
  // A full file list up front gives a stable total for progress and makes hard links exact.
  argv.push('--no-inc-recursive');
  // rsync leaves Nagle on; its small protocol messages to our loopback entry then wait for delayed
  // ACKs (≈ 100 ms per connection in bench/, most of a no-change re-sync's time).
  argv.push('--sockopts=TCP_NODELAY');
  // Holes stay holes: without it a sparse 1 GiB image arrives as 1 GiB of allocated zeros.
  argv.push('--sparse');
  if (settings.rsync_opt_xattrs) argv.push('--xattrs');
  if (settings.rsync_opt_acls) argv.push('--acls');
  argv.push(`--info=${withProgress2(settings.rsync_opt_info)}`);
  argv.push(...splitExtras(settings.rsync_opt_extras));
  argv.push(sourceArg(source), destinationUrl);
  return argv;
}

/** rsync copies a directory's contents when its name ends in "/". */
export function sourceArg(source: string): string {
  return source.endsWith('/') ? source : `${source}/`;
}

/** progress2 is what our progress events are parsed from, so it is always on. */
function withProgress2(info: string): string {
  const flags = info.split(',').filter((flag) => !/^progress\d?$/i.test(flag));
  return [...flags, 'PROGRESS2'].join(',');
}
