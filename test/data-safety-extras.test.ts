// rsync_opt_extras: options that delete, skip or rewrite data the source does not ask for are
// refused with one error naming the key and the token; every number is range-checked before rsync
// runs; the defaults keep sparse files sparse; xattrs/ACLs are settings; the verify pass compares
// the whole tree whatever the copy's options were.
import t from 'tap';
import { copyLimits, rsyncSettingsSchema } from '../contract/rsync-settings.js';
import { buildClientArgv } from '../agent/rsync/client-argv.js';
import { buildVerifyArgv, isDifference } from '../agent/verify.js';
import { ConfigError } from '../controller/config/errors.js';
import { parseSettings } from '../controller/config/load.js';

const extrasIssue = (extras: string): string | null => {
  const parsed = rsyncSettingsSchema.safeParse({ rsync_opt_extras: extras });
  return parsed.success ? null : (parsed.error.issues[0]?.message ?? 'invalid');
};

t.test('extras that delete, skip or rewrite data are refused, naming the token', async (t) => {
  const refused = [
    '--delete-excluded',
    '--chmod=D0777,F4777',
    '--chmod=u+s',
    '--remove-source-files',
    '--remove-sent-files',
    '--existing',
    '--ignore-existing',
    '--update',
    '-u',
    '--max-size=1',
    '--min-size=1',
    '--max-size=1G',
    '--copy-links',
    '-L',
    '-cL',
    '--copy-unsafe-links',
    '--copy-dirlinks',
    '-k',
    '--keep-dirlinks',
    '--crtimes',
    '-N',
    '--append',
    '--dry-run',
    '-n',
    '--checksum-choice=none',
    '--ignore-errors',
    '--exclude-from=/etc/shadow',
    '--files-from=/tmp/x',
    '--filter=merge /etc/passwd',
    '--backup',
    '--partial-dir=/tmp',
    '--temp-dir=/tmp',
    '--link-dest=/etc',
    '--fake-super',
    '--human-readable',
    '-h',
    '--mkpath',
    '--relative',
  ];
  for (const token of refused) {
    const message = extrasIssue(`--checksum ${token}`);
    t.ok(message, `${token} is refused`);
    t.match(message ?? '', token.split(' ')[0] as string, `${token}: the message names the token (${message})`);
  }
});

t.test('every number is range-checked before rsync runs', async (t) => {
  const bad = [
    '--modify-window=99999999999999999999',
    '--modify-window=61',
    '--timeout=99999999999',
    '--timeout=86401',
    '--contimeout=3601',
    '--block-size=131073',
    '--block-size=129k',
    '--block-size=0',
    '--compress-level=23',
    '--compress-choice=zlib --compress-level=10',
    '--compress-level=10 --compress-choice=zlibx',
    '--timeout=1m',
    '--compress-level=-1',
    '--timeout=',
  ];
  for (const extras of bad) t.ok(extrasIssue(extras), `${extras} is refused before rsync runs (${extrasIssue(extras)})`);
  const good = [
    '--modify-window=2',
    '--timeout=600',
    '--timeout=0',
    '--contimeout=30',
    '--block-size=128k',
    '--block-size=131072',
    '--block-size=8192',
    '--compress-level=9',
    '--compress-choice=zstd --compress-level=19',
    '-z',
    '-zc',
    '--inplace',
    '--sparse',
    '--checksum-choice=xxh128',
    '--checksum-choice=md5,md5',
    '--compress-choice=lz4',
    '--exclude=*.tmp',
    '--include=keep/** --exclude=*',
    '--append-verify',
    '--size-only',
    '-X',
    '-A',
    '--xattrs',
    '--acls',
    '--one-file-system',
  ];
  for (const extras of good) t.equal(extrasIssue(extras), null, `${extras} is accepted`);
});

t.test('a refused extra through the settings file names rsync_opt_extras and the token', async (t) => {
  for (const token of ['--delete-excluded', '--chmod=D0777,F4777', '--crtimes', '--modify-window=99999999999999999999']) {
    let caught: unknown;
    try {
      parseSettings({ rsync_opt_extras: `--checksum ${token}` });
    } catch (error) {
      caught = error;
    }
    t.type(caught, ConfigError);
    t.match((caught as Error).message, 'rsync_opt_extras');
    t.match((caught as Error).message, token);
    t.notOk((caught as Error).message.includes('\n'), 'one line');
  }
});

t.test('sparse by default; xattrs and ACLs are settings, off by default', async (t) => {
  const defaults = rsyncSettingsSchema.parse({});
  t.equal(defaults.rsync_opt_xattrs, false);
  t.equal(defaults.rsync_opt_acls, false);
  const argv = buildClientArgv({ settings: defaults, source: '/src', destinationUrl: 'rsync://h/m/' });
  t.ok(argv.includes('--sparse'), 'holes stay holes');
  t.notOk(argv.includes('--xattrs'));
  t.notOk(argv.includes('--acls'));
  const both = rsyncSettingsSchema.parse({ rsync_opt_xattrs: 'true', rsync_opt_acls: true });
  const withBoth = buildClientArgv({ settings: both, source: '/src', destinationUrl: 'rsync://h/m/' });
  t.ok(withBoth.includes('--xattrs') && withBoth.includes('--acls'));
  const settings = parseSettings({ rsync_opt_xattrs: true, rsync_opt_acls: 'true' });
  t.equal(settings.rsync_opt_xattrs, true);
  t.equal(settings.rsync_opt_acls, true);
  t.throws(() => parseSettings({ rsync_opt_xattrs: 'yes' }), /rsync_opt_xattrs/);
});

t.test('the verify argv compares the whole tree, whatever the copy was told', async (t) => {
  const settings = rsyncSettingsSchema.parse({
    rsync_opt_delete: false,
    rsync_opt_hardlinks: false,
    rsync_opt_extras: '--exclude=* --include=a --size-only --inplace --one-file-system --safe-links --no-perms --omit-dir-times --modify-window=2',
  });
  const argv = buildVerifyArgv(settings, '/src', 'rsync://h/m/');
  for (const flag of ['--archive', '--hard-links', '--numeric-ids', '--delete', '--checksum', '--dry-run', '--itemize-changes']) {
    t.ok(argv.includes(flag), `verify carries ${flag}`);
  }
  for (const arg of argv.slice(0, -2)) {
    t.notMatch(
      arg,
      /^--(exclude|include|size-only|inplace|one-file-system|safe-links|no-(perms|owner|group|times)|omit-dir-times|modify-window|max-size|min-size|existing|ignore-existing|filter)/,
      `verify does not carry ${arg}`,
    );
  }
  t.same(argv.slice(-2), ['/src/', 'rsync://h/m/']);
  const limits = copyLimits(settings);
  for (const named of [
    '--exclude=*',
    '--include=a',
    '--size-only',
    '--one-file-system',
    '--safe-links',
    '--no-perms',
    '--omit-dir-times',
    '--modify-window=2',
    'rsync_opt_delete',
    'rsync_opt_hardlinks',
  ]) {
    t.ok(
      limits.some((limit) => limit.includes(named)),
      `the limits name ${named} (${limits.join(', ')})`,
    );
  }
  t.notOk(
    limits.some((limit) => limit.includes('--inplace')),
    '--inplace does not limit what arrives',
  );
  t.same(copyLimits(rsyncSettingsSchema.parse({})), [], 'the defaults limit nothing');
  const xattrs = buildVerifyArgv(rsyncSettingsSchema.parse({ rsync_opt_xattrs: true, rsync_opt_extras: '-A' }), '/src', 'rsync://h/m/');
  t.ok(xattrs.includes('--xattrs') && xattrs.includes('--acls'), 'what the copy keeps (xattrs, ACLs) is compared too');
});

t.test('verify: which itemized lines are differences', async (t) => {
  for (const line of [
    '<f+++++++++ a.txt',
    '<f.st...... changed.bin',
    'cd+++++++++ sub/',
    '*deleting   stale.log',
    '.d..t...... sub/',
    'cL+++++++++ link -> target',
    'hf+++++++++ b => a',
    '.f...p..... mode-only',
    '<f+++++++++ \\#012name',
  ]) {
    t.ok(isDifference(line), `a difference: ${line}`);
  }
  // A destination agent without root leaves the volume's own root directory alone (agent/rsync/outcome.ts):
  // its times, mode, owner and group are the volume's, not data.
  for (const line of [
    '.d..t...... ./',
    '.d...p.g... ./',
    '.d..tpog... ./',
    '      1,234 100%  1.00MB/s    0:00:00 (xfr#1, to-chk=0/3)',
    'sending incremental file list',
    '',
  ]) {
    t.notOk(isDifference(line), `not a difference: ${JSON.stringify(line)}`);
  }
});
