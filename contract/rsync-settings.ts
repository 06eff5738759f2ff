// rsync_opt_* settings, spelled as MTC's MigrationController spells them: the schema, the allow-list of
// extras, and what a setting means for the copy and its verify pass. Both sides read them.
import { z } from 'zod';

/** What an allowed extra may carry after "=". */
type ValueRule =
  | { kind: 'number'; min: number; max: number; unit: string; kibSuffix?: boolean }
  | { kind: 'pattern' }
  | { kind: 'choice'; values: readonly string[]; list?: boolean };

interface AllowedExtra {
  /** The option limits what arrives (a filter, a metadata class left out, a weaker quick check):
   * the verify pass names it when the trees differ. */
  limits?: boolean;
  value?: ValueRule;
}

/** Extras a user may add: an explicit allow-list (long names; `-X`-style letters below). Anything
 * not here is refused. */
const ALLOWED_EXTRAS: Readonly<Record<string, AllowedExtra>> = {
  checksum: {},
  sparse: {},
  compress: {},
  acls: {},
  xattrs: {},
  inplace: {},
  'append-verify': {},
  'whole-file': {},
  'no-whole-file': {},
  'ignore-times': {},
  executability: {},
  fsync: {},
  preallocate: {},
  atimes: {},
  'delete-after': {},
  'delete-delay': {},
  'delete-during': {},
  'size-only': { limits: true },
  'omit-dir-times': { limits: true },
  'no-perms': { limits: true },
  'no-owner': { limits: true },
  'no-group': { limits: true },
  'no-times': { limits: true },
  'one-file-system': { limits: true },
  'safe-links': { limits: true },
  exclude: { limits: true, value: { kind: 'pattern' } },
  include: { limits: true, value: { kind: 'pattern' } },
  'modify-window': { limits: true, value: { kind: 'number', min: 0, max: 60, unit: 'seconds' } },
  timeout: { value: { kind: 'number', min: 0, max: 86_400, unit: 'seconds (0 = none)' } },
  contimeout: { value: { kind: 'number', min: 0, max: 3_600, unit: 'seconds (0 = none)' } },
  'block-size': { value: { kind: 'number', min: 1, max: 131_072, unit: 'bytes (at most 128k)', kibSuffix: true } },
  'compress-level': { value: { kind: 'number', min: 0, max: 22, unit: '(0-9 with zlib/zlibx, up to 22 with zstd)' } },
  'compress-choice': { value: { kind: 'choice', values: ['zstd', 'lz4', 'zlibx', 'zlib', 'none'] } },
  // "none" is left out: it turns off the checksum that checks every transferred file.
  'checksum-choice': { value: { kind: 'choice', values: ['auto', 'xxh128', 'xxh3', 'xxh64', 'xxhash', 'md5', 'md4', 'sha1'], list: true } },
};

/** Short letters allowed in a `-czS`-style group, and the long option each stands for. */
const ALLOWED_LETTERS: Readonly<Record<string, string>> = {
  c: 'checksum',
  S: 'sparse',
  z: 'compress',
  A: 'acls',
  X: 'xattrs',
  W: 'whole-file',
  H: 'hard-links',
};

const SKIPS_DATA = 'silently leaves files out, so the destination is not a copy of the source';
const FOLLOWS_LINKS = "follows symlinks: a link in the volume to a file outside it (the agent's TLS key) would arrive as that file's content";
const READS_FILES = 'reads a file or rules on the agent; write --exclude=PATTERN / --include=PATTERN instead';
const WRITES_ELSEWHERE = 'writes or reads outside the volume being copied';
const SETTING = (key: string) => `set ${key} instead`;

/** Options people reach for that would delete, skip or rewrite data the source does not ask for,
 * with the reason the error gives. Anything else off the allow-list is "unknown or refused". */
const REFUSED_EXTRAS: Readonly<Record<string, string>> = {
  'delete-excluded': 'deletes destination files the filters exclude, which the source never asked to delete',
  'remove-source-files': 'deletes files at the source',
  'remove-sent-files': 'deletes files at the source',
  chmod: 'rewrites permissions the source does not have (setuid, world-writable, ...)',
  chown: 'rewrites ownership the source does not have',
  usermap: 'rewrites ownership the source does not have',
  groupmap: 'rewrites ownership the source does not have',
  'fake-super': 'stores ownership in xattrs instead of the files',
  existing: `skips every file the destination does not have yet: it ${SKIPS_DATA}`,
  'ignore-existing': 'leaves destination files unchanged when the source changed them',
  update: "leaves destination files unchanged when they are newer than the source's",
  'max-size': `${SKIPS_DATA}; use --exclude=PATTERN for what must stay behind`,
  'min-size': `${SKIPS_DATA}; use --exclude=PATTERN for what must stay behind`,
  'copy-links': FOLLOWS_LINKS,
  'copy-unsafe-links': FOLLOWS_LINKS,
  'copy-dirlinks': FOLLOWS_LINKS,
  'keep-dirlinks': 'follows symlinks on the destination, writing outside the volume',
  crtimes: 'Linux rsync cannot keep creation times (rsync itself would refuse it)',
  append: 'appends to destination files without checking what they already hold (--append-verify does)',
  'dry-run': 'copies nothing, and the copy would still report success',
  'list-only': 'copies nothing, and the copy would still report success',
  'ignore-errors': 'deletes even after I/O errors',
  'delete-missing-args': 'deletes destination files the source does not list',
  'exclude-from': READS_FILES,
  'include-from': READS_FILES,
  'files-from': READS_FILES,
  filter: READS_FILES,
  backup: WRITES_ELSEWHERE,
  'backup-dir': WRITES_ELSEWHERE,
  suffix: WRITES_ELSEWHERE,
  'partial-dir': WRITES_ELSEWHERE,
  'temp-dir': WRITES_ELSEWHERE,
  'compare-dest': WRITES_ELSEWHERE,
  'copy-dest': WRITES_ELSEWHERE,
  'link-dest': WRITES_ELSEWHERE,
  'log-file': WRITES_ELSEWHERE,
  'write-batch': WRITES_ELSEWHERE,
  'only-write-batch': WRITES_ELSEWHERE,
  'read-batch': WRITES_ELSEWHERE,
  mkpath: WRITES_ELSEWHERE,
  relative: WRITES_ELSEWHERE,
  'human-readable': 'changes the numbers the agent reads progress from',
  bwlimit: SETTING('rsync_opt_bwlimit'),
  delete: SETTING('rsync_opt_delete'),
  archive: SETTING('rsync_opt_archive'),
  'hard-links': SETTING('rsync_opt_hardlinks'),
  partial: SETTING('rsync_opt_partial'),
  info: SETTING('rsync_opt_info'),
};

/** Refused short letters and the long option each stands for. */
const REFUSED_LETTERS: Readonly<Record<string, string>> = {
  L: 'copy-links',
  k: 'copy-dirlinks',
  K: 'keep-dirlinks',
  N: 'crtimes',
  u: 'update',
  n: 'dry-run',
  b: 'backup',
  T: 'temp-dir',
  R: 'relative',
  f: 'filter',
  F: 'filter',
  h: 'human-readable',
  a: 'archive',
  r: 'archive',
  P: 'partial',
};

interface ParsedExtra {
  token: string;
  name: string;
  value?: string;
}

/** The one problem with an extras string, or null: every token on the allow-list, every value in
 * range, before any rsync runs. */
export function extrasProblem(extras: string): string | null {
  const parsed: ParsedExtra[] = [];
  for (const token of splitExtras(extras)) {
    const problem = tokenProblem(token, parsed);
    if (problem) return problem;
  }
  // zlib's levels stop at 9; only zstd goes further.
  const choice = parsed.filter((extra) => extra.name === 'compress-choice').pop()?.value;
  const level = parsed.find((extra) => extra.name === 'compress-level' && Number(extra.value) > 9);
  if (level && (choice === 'zlib' || choice === 'zlibx')) {
    return `rsync extra "${level.token}": must be 0-9 with --compress-choice=${choice}`;
  }
  return null;
}

function tokenProblem(token: string, parsed: ParsedExtra[]): string | null {
  if (!token.startsWith('--')) {
    if (!/^-[A-Za-z]+$/.test(token)) return `unknown or refused rsync extra "${token}"`;
    for (const letter of token.slice(1)) {
      const refused = REFUSED_LETTERS[letter];
      if (refused) return `refused rsync extra "${token}": -${letter} (--${refused}) ${REFUSED_EXTRAS[refused] ?? 'is not allowed'}`;
      if (!ALLOWED_LETTERS[letter]) return `unknown or refused rsync extra "${token}"`;
    }
    return null;
  }
  const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(token);
  if (!match) return `unknown or refused rsync extra "${token}"`;
  const name = match[1] as string;
  const value = match[2];
  const refused = REFUSED_EXTRAS[name];
  if (refused) return `refused rsync extra "${token}": ${refused}`;
  const allowed = ALLOWED_EXTRAS[name];
  if (!allowed) return `unknown or refused rsync extra "${token}"`;
  const rule = allowed.value;
  if (!rule) {
    if (value !== undefined) return `rsync extra "${token}": --${name} takes no value`;
  } else if (value === undefined || value === '') {
    return `rsync extra "${token}": --${name} needs a value, as --${name}=VALUE (one token, no space)`;
  } else {
    const problem = valueProblem(rule, value);
    if (problem) return `rsync extra "${token}": ${problem}`;
  }
  parsed.push({ token, name, ...(value !== undefined ? { value } : {}) });
  return null;
}

function valueProblem(rule: ValueRule, value: string): string | null {
  switch (rule.kind) {
    case 'number': {
      const match = (rule.kibSuffix ? /^(\d{1,12})([kK]?)$/ : /^(\d{1,12})$/).exec(value);
      const number = match ? Number(match[1]) * (match[2] ? 1024 : 1) : Number.NaN;
      if (!Number.isSafeInteger(number) || number < rule.min || number > rule.max) {
        return `must be a whole number ${rule.min}-${rule.max} ${rule.unit}`;
      }
      return null;
    }
    case 'pattern':
      return /[\0\s]/.test(value) ? 'a pattern may not hold spaces or NUL' : null;
    case 'choice': {
      const values = rule.list ? value.split(',') : [value];
      const bad = values.find((item) => !rule.values.includes(item));
      return bad === undefined && values.length <= 2 ? null : `must be one of ${rule.values.join(', ')}`;
    }
  }
}

/** The user's settings that limit what a copy brings over (filters, metadata left out, weaker
 * quick checks, no delete, no hard links): a destination may then differ from the source by
 * design, and the verify pass says which of these made it so. Empty for the defaults. */
export function copyLimits(settings: RsyncSettings): string[] {
  const tokens = splitExtras(settings.rsync_opt_extras);
  const limits = tokens.filter((token) => ALLOWED_EXTRAS[/^--([a-z][a-z0-9-]*)/.exec(token)?.[1] ?? '']?.limits === true);
  const deletes = settings.rsync_opt_delete || tokens.some((token) => /^--delete-(after|delay|during)$/.test(token));
  if (!settings.rsync_opt_archive) limits.push('rsync_opt_archive: false');
  if (!deletes) limits.push('rsync_opt_delete: false');
  if (!settings.rsync_opt_hardlinks && !tokens.some((token) => /^-[A-Za-z]*H/.test(token))) limits.push('rsync_opt_hardlinks: false');
  return limits;
}

/** Whether the copy keeps xattrs / ACLs (the setting or an extra): then the verify compares them. */
export function keepsXattrs(settings: RsyncSettings): boolean {
  return settings.rsync_opt_xattrs || splitExtras(settings.rsync_opt_extras).some((token) => token === '--xattrs' || /^-[A-Za-z]*X/.test(token));
}

export function keepsAcls(settings: RsyncSettings): boolean {
  return settings.rsync_opt_acls || splitExtras(settings.rsync_opt_extras).some((token) => token === '--acls' || /^-[A-Za-z]*A/.test(token));
}

export const DEFAULT_RSYNC_INFO = 'COPY2,DEL2,REMOVE2,SKIP2,FLIST2,PROGRESS2,STATS2';

/** true/false as YAML booleans or as the strings MTC's CR often carries. */
export const boolish = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');

export const rsyncSettingsSchema = z.object({
  rsync_opt_bwlimit: z.coerce
    .number({ error: 'must be a whole number of KiB/s, or -1 for no limit' })
    .int('must be a whole number of KiB/s, or -1 for no limit')
    .min(-1, 'must be a whole number of KiB/s, or -1 for no limit')
    .default(-1),
  rsync_opt_archive: boolish.default(true),
  rsync_opt_partial: boolish.default(true),
  rsync_opt_delete: boolish.default(true),
  rsync_opt_hardlinks: boolish.default(true),
  rsync_opt_info: z
    .string()
    .regex(/^[A-Za-z]+[0-9]?(,[A-Za-z]+[0-9]?)*$/, 'must be a comma-separated list of rsync --info flags such as COPY2,DEL2')
    .default(DEFAULT_RSYNC_INFO),
  /** rsync -X / -A. Off by default, as in MTC; as non-root only user.* xattrs can be written. */
  rsync_opt_xattrs: boolish.default(false),
  rsync_opt_acls: boolish.default(false),
  rsync_opt_extras: z
    .string()
    .default('')
    .superRefine((extras, ctx) => {
      const problem = extrasProblem(extras);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  rsync_backoff_limit: z.coerce
    .number({ error: 'must be a whole number of retries' })
    .int('must be a whole number of retries')
    .min(0, 'must not be negative')
    .default(20),
});

export type RsyncSettings = z.infer<typeof rsyncSettingsSchema>;

export function splitExtras(extras: string): string[] {
  return extras.split(/\s+/).filter((token) => token.length > 0);
}
