// rsync_opt_* settings (spelled as MTC's MigrationController spells them) and the client argv built
// from them. The argv is an array handed to rsync directly: no shell ever sees a setting.
import { z } from 'zod';

/** Extras a user may add. Anything that changes where rsync connects, what it runs, or deletes at
 * the source is refused: the tunnel and the module are ours to choose. */
const ALLOWED_EXTRAS: RegExp[] = [
  /^--(checksum|sparse|compress|acls|xattrs|inplace|append-verify|whole-file|no-whole-file)$/,
  /^--(size-only|ignore-times|omit-dir-times|no-perms|no-owner|no-group|no-times)$/,
  /^--(delete-after|delete-delay|delete-during|delete-excluded|one-file-system|safe-links)$/,
  /^--(copy-links|copy-unsafe-links|executability|fsync|preallocate|atimes|crtimes)$/,
  /^--(compress-level|timeout|contimeout|max-size|min-size|block-size|modify-window)=\d+[kKmMgG]?$/,
  /^--(exclude|include|chmod|compress-choice|checksum-choice)=[^\s]+$/,
  /^-[cSzAXWH]+$/,
];

export const DEFAULT_RSYNC_INFO = 'COPY2,DEL2,REMOVE2,SKIP2,FLIST2,PROGRESS2,STATS2';

/** true/false as YAML booleans or as the strings MTC's CR often carries. */
export const boolish = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');

export const rsyncSettingsSchema = z.object({
  rsync_opt_bwlimit: z.coerce.number({ error: 'must be a whole number of KiB/s, or -1 for no limit' })
    .int('must be a whole number of KiB/s, or -1 for no limit')
    .min(-1, 'must be a whole number of KiB/s, or -1 for no limit')
    .default(-1),
  rsync_opt_archive: boolish.default(true),
  rsync_opt_partial: boolish.default(true),
  rsync_opt_delete: boolish.default(true),
  rsync_opt_hardlinks: boolish.default(true),
  rsync_opt_info: z.string().regex(/^[A-Za-z]+[0-9]?(,[A-Za-z]+[0-9]?)*$/, 'must be a comma-separated list of rsync --info flags such as COPY2,DEL2')
    .default(DEFAULT_RSYNC_INFO),
  rsync_opt_extras: z.string().default('').superRefine((extras, ctx) => {
    for (const token of splitExtras(extras)) {
      if (!ALLOWED_EXTRAS.some((pattern) => pattern.test(token))) {
        ctx.addIssue({ code: 'custom', message: `unknown or refused rsync extra "${token}"` });
      }
    }
  }),
  rsync_backoff_limit: z.coerce.number({ error: 'must be a whole number of retries' })
    .int('must be a whole number of retries').min(0, 'must not be negative').default(20),
});

export type RsyncSettings = z.infer<typeof rsyncSettingsSchema>;

export function splitExtras(extras: string): string[] {
  return extras.split(/\s+/).filter((token) => token.length > 0);
}

export interface ClientArgvInput {
  settings: RsyncSettings;
  source: string;
  /** rsync://127.0.0.1:port/module/: the client agent's entry (tunnel/rsync-entry.ts), which opens the tunnel. */
  destinationUrl: string;
  dryRunChecksum?: boolean;
}

/** The rsync client argv (without the program name). */
export function buildClientArgv({ settings, source, destinationUrl, dryRunChecksum }: ClientArgvInput): string[] {
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
  argv.push(`--info=${withProgress2(settings.rsync_opt_info)}`);
  argv.push(...splitExtras(settings.rsync_opt_extras));
  if (dryRunChecksum) argv.push('--dry-run', '--checksum', '--itemize-changes');
  argv.push(source.endsWith('/') ? source : `${source}/`, destinationUrl);
  return argv;
}

/** progress2 is what our progress events are parsed from, so it is always on. */
function withProgress2(info: string): string {
  const flags = info.split(',').filter((flag) => !/^progress\d?$/i.test(flag));
  return [...flags, 'PROGRESS2'].join(',');
}
