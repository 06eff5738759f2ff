// The agent's pure pieces: progress2 parsing, noProxy matching, argv building, exit classes,
// backoff, and the monotonic progress tracker.
import t from 'tap';
import { ProgressTracker } from '../agent/progress/tracker.js';
import { backoffDelayMs } from '../agent/rsync/backoff.js';
import { destinationFor, renderDaemonConfig } from '../agent/rsync/daemon-config.js';
import { classifyExitCode } from '../agent/rsync/exit-codes.js';
import { rsyncSettingsSchema } from '../contract/rsync-settings.js';
import { buildClientArgv } from '../agent/rsync/client-argv.js';
import { LineSplitter, parseProgress2Line } from '../agent/rsync/progress2.js';
import { bypassesProxy } from '../contract/no-proxy.js';
import { findConnectionOwner } from '../agent/tunnel/socket-owner.js';
import type { TunnelErrorKind } from '../agent/tunnel/tunnel-error.js';
import { judgeAttempt, onlyRootAttributesFailed } from '../agent/rsync/outcome.js';
import { parseProxyUrl, redactProxyUrl } from '../contract/proxy-settings.js';

t.test('progress2 lines parse, with any digit grouping; other lines do not', async (t) => {
  t.same(parseProgress2Line('    123,456,789  45%   12.34MB/s    0:00:12 (xfr#12, to-chk=100/1200)'), {
    bytes: 123456789,
    percent: 45,
    transferred: 12,
    toCheck: 100,
    listSize: 1200,
  });
  t.same(parseProgress2Line('  1.234.567 100%  1,00GB/s  0:00:00 (xfr#1, ir-chk=0/3)')?.bytes, 1234567);
  t.same(parseProgress2Line('          0   0%    0.00kB/s    0:00:00')?.listSize, 0);
  t.equal(parseProgress2Line('rsync error: some files/attrs were not transferred (code 23)'), null);
  t.equal(parseProgress2Line('Number of files: 4 (reg: 2, dir: 2)'), null);
  const splitter = new LineSplitter();
  t.same(splitter.push('  10  1%  1kB/s 0:00:01\r  20  2%'), ['  10  1%  1kB/s 0:00:01']);
  t.same(splitter.push('  2kB/s 0:00:01\r\nnext\n'), ['  20  2%  2kB/s 0:00:01', 'next']);
});

t.test('noProxy: hosts, suffixes, IPs, CIDRs and *', async (t) => {
  const list = ['internal.example', '.svc', '10.0.0.0/8', '192.168.1.7', 'fd00::/8'];
  t.ok(bypassesProxy('internal.example', list));
  t.ok(bypassesProxy('api.internal.example', list), 'a bare domain covers its subdomains');
  t.ok(bypassesProxy('dvm.ns.svc', list));
  t.notOk(bypassesProxy('svc', list), '.svc matches subdomains only');
  t.ok(bypassesProxy('10.4.5.6', list));
  t.notOk(bypassesProxy('11.4.5.6', list));
  t.ok(bypassesProxy('192.168.1.7', list));
  t.notOk(bypassesProxy('192.168.1.8', list));
  t.ok(bypassesProxy('[fd00::1]', list));
  t.notOk(bypassesProxy('route.apps.example.com', list));
  t.ok(bypassesProxy('anything', ['*']));
  t.notOk(bypassesProxy('anything', []));
});

t.test('proxy URLs parse, and their passwords are redacted for logs', async (t) => {
  t.same(parseProxyUrl('http://us%40er:p%3Ass@proxy.example:3128'), { host: 'proxy.example', port: 3128, username: 'us@er', password: 'p:ss' });
  t.throws(() => parseProxyUrl('socks5://h:1'), /http:\/\//);
  t.throws(() => parseProxyUrl('nonsense'), /must be a URL/);
  t.equal(redactProxyUrl('http://user:secret@h:1'), 'http://user:***@h:1');
});

t.test('argv from settings: MTC defaults, no shell, progress2 always on', async (t) => {
  const settings = rsyncSettingsSchema.parse({});
  const argv = buildClientArgv({ settings, source: '/src', destinationUrl: 'rsync://h/m/' });
  t.same(argv.slice(0, 4), ['--archive', '--hard-links', '--delete', '--partial']);
  t.ok(argv.some((arg) => /^--info=.*PROGRESS2$/.test(arg)));
  t.ok(argv.includes('--sockopts=TCP_NODELAY'), 'no Nagle on the way to the loopback entry');
  t.same(argv.slice(-2), ['/src/', 'rsync://h/m/']);
  const tuned = rsyncSettingsSchema.parse({
    rsync_opt_bwlimit: '2048',
    rsync_opt_delete: 'false',
    rsync_opt_info: 'COPY2,progress1',
    rsync_opt_extras: '--checksum --exclude=*.tmp',
  });
  const tunedArgv = buildClientArgv({ settings: tuned, source: '/src/', destinationUrl: 'rsync://h/m/' });
  t.ok(tunedArgv.includes('--bwlimit=2048'));
  t.notOk(tunedArgv.includes('--delete'));
  t.ok(tunedArgv.includes('--info=COPY2,PROGRESS2'), 'a user progress flag is replaced, not doubled');
  t.ok(tunedArgv.includes('--exclude=*.tmp'));
  for (const bad of ['--rsh=ssh', '-e', '--rsync-path=/bin/sh', '--remove-source-files', '--server', '--log-file=/x']) {
    t.notOk(rsyncSettingsSchema.safeParse({ rsync_opt_extras: bad }).success, `${bad} is refused`);
  }
  t.notOk(rsyncSettingsSchema.safeParse({ rsync_opt_bwlimit: '1.5' }).success);
});

t.test('exit classes follow docs/contracts.md', async (t) => {
  t.equal(classifyExitCode(0), 'ok');
  t.equal(classifyExitCode(24), 'ok-with-warning');
  for (const code of [1, 2, 3, 4, 11, 23]) t.equal(classifyExitCode(code), 'fail', `${code} fails fast`);
  for (const code of [10, 12, 20, 30, 35, 255]) t.equal(classifyExitCode(code), 'retry', `${code} is retried`);
});

t.test('backoff grows exponentially, capped, with jitter in the upper half', async (t) => {
  t.equal(
    backoffDelayMs(1, 1000, 60_000, () => 0),
    500,
  );
  t.equal(
    backoffDelayMs(3, 1000, 60_000, () => 1),
    4000,
  );
  t.equal(
    backoffDelayMs(20, 1000, 60_000, () => 1),
    60_000,
  );
});

t.test('the daemon config keeps symlinks exact, as root and without', async (t) => {
  for (const root of [true, false]) {
    const config = renderDaemonConfig({ logFile: '/l', modules: [{ name: 'a', path: '/mnt/a' }], root });
    t.match(config, /use chroot = no/, 'no chroot: rsync 3.5 re-resolves every path per file under one');
    t.match(config, /path = \/\n/, 'the module serves /, so rsync does not sanitize links');
    t.match(config, /munge symlinks = no/);
    t.equal(/uid = 0/.test(config), root, 'root keeps uid 0 instead of dropping to nobody');
  }
  t.equal(destinationFor({ name: 'a', path: '/mnt/a/' }), 'a/mnt/a/', 'the server, not the client, names where the data goes');
});

t.test('tracker: monotonic across attempts, never over the total, 100 only on completion', async (t) => {
  const tracker = new ProgressTracker('ns/pvc', 1000, 10);
  tracker.update({ bytes: 600, percent: 60, transferred: 5, toCheck: 4, listSize: 10 }, 1000);
  tracker.startAttempt(2);
  tracker.update({ bytes: 100, percent: 10, transferred: 1, toCheck: 9, listSize: 10 }, 2000);
  const during = tracker.snapshot(2000);
  t.equal(during.bytes, 600, 'a retry starting over does not lower bytes');
  t.ok(during.percent >= 60 && during.percent < 100);
  t.equal(during.attempt, 2);
  tracker.update({ bytes: 5000, percent: 100, transferred: 9, toCheck: 0, listSize: 10 }, 3000);
  t.equal(tracker.snapshot(3000).bytes, 5000, 'bytes are what rsync sent (the source grew)');
  t.equal(tracker.snapshot(3000).totalBytes, 5000, 'and the total is never below them');
  t.ok(tracker.snapshot(3000).percent < 100, 'not 100 before rsync said it is done');
  tracker.complete();
  t.equal(tracker.snapshot(3000).percent, 100);
  const resync = new ProgressTracker('ns/pvc', 1000, 10);
  resync.update({ bytes: 0, percent: 0, transferred: 0, toCheck: 5, listSize: 10 }, 1000);
  t.ok(resync.snapshot(1000).percent >= 40, 'a re-sync with nothing to send still advances as files are checked');
});

t.test('tracker: bytes sent before the source walk ends are kept (the walk runs beside the first rsync)', async (t) => {
  // CI: a fast copy finished while the idle-priority walk was still running; every sample was
  // clamped to a total of 0 and the result said 0 bytes sent for a PVC that was copied.
  const tracker = new ProgressTracker('ns/pvc', null, 0);
  tracker.update({ bytes: 3000, percent: 100, transferred: 2, toCheck: 0, listSize: 3 }, 1000);
  const early = tracker.snapshot(1000);
  t.equal(early.bytes, 3000, 'bytes counted while the total is unknown');
  t.ok(early.totalBytes >= early.bytes, `the total is never below bytes (${early.totalBytes})`);
  t.equal(early.etaSeconds, null, 'no ETA without a total');
  tracker.setTotals(3500, 3);
  t.equal(tracker.snapshot(1000).totalBytes, 3500, 'the measured total once the walk is done');
  tracker.complete();
  t.equal(tracker.transferredBytes, 3000, 'the result says what was sent');
  const shrunk = new ProgressTracker('ns/pvc', null, 0);
  shrunk.update({ bytes: 3000, percent: 100, transferred: 2, toCheck: 0, listSize: 3 }, 1000);
  shrunk.setTotals(2000, 3);
  t.equal(shrunk.snapshot(1000).bytes, 3000, 'bytes already published do not go back when the walk measures less');
  t.equal(shrunk.snapshot(1000).totalBytes, 3000, 'the total is raised to them instead');
});

t.test('progress: a line per file (200,000 in 10 s) keeps the rate window small and each update cheap', async (t) => {
  // rsync prints a progress2 line per file; the window once held every sample of the last 5 s and
  // shifted a 100,000-entry array per line: 14 s of the agent's CPU for this loop (bench/README.md).
  const files = 200_000;
  const tracker = new ProgressTracker('ns/pvc', files * 1000, files);
  // Cheap is checked by its cause, the window's size, not by a clock (a timed assertion fails on a busy machine).
  for (let i = 0; i <= files; i++) tracker.update({ bytes: i * 1000, percent: 0, transferred: i, toCheck: files - i, listSize: files }, 1_000 + i * 0.05);
  t.ok(tracker.rateWindowPoints <= 5_000 / 100 + 2, `the window holds ${tracker.rateWindowPoints} points, bounded by time`);
  const rate = tracker.snapshot(1_000 + files * 0.05).rateBps;
  t.ok(Math.abs(rate - 20e6) < 20e6 * 0.01, `the rate is still the samples' (${rate} B/s, 1000 B per 50 µs)`);
  const stalled = tracker.snapshot(1_000 + files * 0.05 + 3_001);
  t.equal(stalled.rateBps, 0, 'no line for 3 s: stalled');
});

t.test('socket owner: the connecting end of an established loopback connection, by its whole address pair', async (t) => {
  // More cases (tcp6, v4-mapped, the same port numbers on another 127.0.0.x): test/confinement-socket-owner.test.ts.
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 11 1',
    '   1: 0100007F:9C40 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 12 1',
    '   2: 0100007F:D431 0100007F:9C40 01 00000000:00000000 00:00000000 00000000    65534        0 13 1',
    '   3: 0100007F:D432 0100007F:9C40 06 00000000:00000000 00:00000000 00000000     0        0 0 1',
  ].join('\n');
  const pair = (localPort: number, remotePort: number) => ({
    local: { address: '127.0.0.1', port: localPort },
    remote: { address: '127.0.0.1', port: remotePort },
  });
  t.same(findConnectionOwner(table, pair(0xd431, 0x9c40), true), { found: 'one', uid: 65534 }, 'the client end, not our accepted end');
  t.same(findConnectionOwner(table, pair(0x9c40, 0xd431), true), { found: 'one', uid: 1000 }, 'the reverse direction is our own socket');
  t.same(findConnectionOwner(table, pair(0xd432, 0x9c40), true), { found: 'none' }, "a socket in TIME_WAIT is no one's");
  t.same(findConnectionOwner(table, pair(1, 2), true), { found: 'none' });
});

t.test('attempt verdicts: a tunnel failure that will not fix itself fails at once, a blip retries', async (t) => {
  const verdict = (kind: TunnelErrorKind) => judgeAttempt(12, [], { kind, message: `${kind} happened` });
  for (const kind of ['proxy-auth', 'tls-refused', 'server-identity', 'local-entry'] as const) {
    t.same(verdict(kind), { verdict: 'fail', reason: `${kind} happened` }, kind);
  }
  for (const kind of ['proxy-unreachable', 'proxy-refused', 'server-unreachable'] as const) t.equal(verdict(kind).verdict, 'retry', kind);
  t.equal(judgeAttempt(0, [], { kind: 'proxy-auth', message: 'ignored' }).verdict, 'ok', 'rsync succeeded: a stale status does not matter');
  t.equal(judgeAttempt(11, ['rsync: write failed: No space left on device (28)'], null).verdict, 'fail');
  t.equal(judgeAttempt(23, [], null).verdict, 'fail');
});

t.test("exit 23 is a warning only when every error is about the volume root's own attributes", async (t) => {
  const root = [
    'rsync: [generator] failed to set times on "/mnt/dvm/data/." (in data): Operation not permitted (1)',
    'rsync: [generator] chgrp "/mnt/dvm/data/." (in data) failed: Operation not permitted (1)',
    'rsync: [generator] failed to set permissions on "/mnt/dvm/data/." (in data): Operation not permitted (1)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ];
  t.ok(onlyRootAttributesFailed(23, root, false), 'the root directory only');
  t.notOk(
    onlyRootAttributesFailed(23, [...root, 'rsync: [generator] failed to set times on "/mnt/dvm/data/sub" (in data): Operation not permitted (1)'], false),
    'a subdirectory is data',
  );
  t.notOk(
    onlyRootAttributesFailed(23, [root[0]!, 'rsync: [receiver] mkstemp "/mnt/dvm/data/.a.XXXX" (in data) failed: Permission denied (13)'], false),
    'a file that did not arrive',
  );
  t.notOk(onlyRootAttributesFailed(23, root, true), 'not when some error lines were not seen');
  t.notOk(onlyRootAttributesFailed(23, [root[3]!], false), 'not without a root error at all');
  t.notOk(onlyRootAttributesFailed(24, root, false), 'only for exit 23');
  t.equal(judgeAttempt(23, [], null, { lines: root, truncated: false }).verdict, 'ok-with-warning');
});
