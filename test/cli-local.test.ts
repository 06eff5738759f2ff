// `dvm migrate --local`: bad input gets one clear line and leaves nothing behind; a good run streams
// the same events on its websocket and on stdout.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import type { AgentEvent, ProgressEvent } from '../contract/events.js';
import { freePort } from './support/ports.js';
import { compareTrees, formatDifferences, generateTree, writeBigFile } from './support/tree.js';

const DVM = resolve(import.meta.dirname, '../dist/controller/cli/dvm.js');

function runDvm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [DVM, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

const localTempDirs = () =>
  readdirSync(tmpdir())
    .filter((name) => name.startsWith('dvm-local-'))
    .sort();

const work = mkdtempSync(join(tmpdir(), 'dvm-cli-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const source = join(work, 'source');

t.before(async () => {
  await generateTree(source, { files: 50 });
  await writeBigFile(join(source, 'big.bin'), 24 * 1024 * 1024);
});

t.test('bad input: one line naming what is wrong, non-zero exit, nothing created', async (t) => {
  writeFileSync(join(work, 'a-file'), 'not a directory');
  const cases: [string, string[], RegExp][] = [
    ['missing SRC', ['migrate', '--local'], /missing SRC/],
    ['SRC does not exist', ['migrate', '--local', join(work, 'nope'), join(work, 'dst')], /SRC .*nope does not exist/],
    ['unwritable DST', ['migrate', '--local', source, join(work, 'a-file', 'dst')], /DST .* is not writable/],
    ['malformed proxy URL', ['migrate', '--local', source, join(work, 'dst'), '--proxy', 'not a url'], /--proxy \(stunnel_tcp_proxy\)/],
    [
      'proxy with a path',
      ['migrate', '--local', source, join(work, 'dst'), '--proxy', 'http://u:p@127.0.0.1:3128/x'],
      /--proxy \(stunnel_tcp_proxy\): must not have a path/,
    ],
    ['bad bwlimit', ['migrate', '--local', source, join(work, 'dst'), '--bwlimit', 'fast'], /--bwlimit \(rsync_opt_bwlimit\)/],
    ['negative bwlimit', ['migrate', '--local', source, join(work, 'dst'), '--bwlimit', '-5'], /--bwlimit \(rsync_opt_bwlimit\)/],
    [
      'unknown rsync extra',
      ['migrate', '--local', source, join(work, 'dst'), '--rsync-extras', '--rsh=evil'],
      /--rsync-extras \(rsync_opt_extras\): unknown or refused rsync extra "--rsh=evil"/,
    ],
    ['bad listen address', ['migrate', '--local', source, join(work, 'dst'), '--listen', 'everywhere'], /--listen: "everywhere" is not host:port/],
  ];
  const before = localTempDirs();
  for (const [name, args, expected] of cases) {
    const { code, stderr, stdout } = await runDvm(args);
    t.not(code, 0, `${name}: non-zero exit`);
    const lines = stderr.trim().split('\n');
    t.equal(lines.length, 1, `${name}: exactly one line (${stderr.trim()})`);
    t.match(lines[0], expected, `${name}: names the problem`);
    t.equal(stdout, '', `${name}: nothing on stdout`);
  }
  t.same(localTempDirs(), before, 'no temp material was left behind');
  t.same(
    readdirSync(work).filter((name) => name === 'dst'),
    [],
    'no destination was created',
  );
});

t.test('a websocket client and stdout see the same live events', async (t) => {
  const destination = join(work, 'ws-destination');
  const port = await freePort();
  const before = localTempDirs();
  const child = spawn(
    process.execPath,
    [DVM, 'migrate', '--local', source, destination, '--json', '--bwlimit', '8192', '--progress-listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number>((done) => child.on('close', (code) => done(code ?? 1)));

  const received: AgentEvent[] = [];
  await new Promise<void>((done, fail) => {
    const deadline = Date.now() + 30_000;
    const tryConnect = (): void => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/progress`);
      ws.on('message', (data) => received.push(JSON.parse(String(data)) as AgentEvent));
      ws.on('close', () => done());
      ws.on('error', () => {
        if (Date.now() > deadline) fail(new Error('the progress websocket never answered'));
        else setTimeout(tryConnect, 100);
      });
    };
    tryConnect();
  });
  t.equal(await exited, 0, 'the migration succeeded');
  t.same(formatDifferences(await compareTrees(source, destination)), '', 'identical');

  const progress = received.filter((event): event is ProgressEvent => event.type === 'progress');
  t.ok(progress.length >= 3, `several progress events arrived live (${progress.length})`);
  t.ok(
    progress.some((event) => event.percent > 0 && event.percent < 100),
    'an in-between percentage was seen',
  );
  for (let i = 1; i < progress.length; i += 1) {
    if (progress[i]!.bytes < progress[i - 1]!.bytes) t.fail(`bytes went backwards at websocket message ${i}`);
  }
  t.equal(progress[progress.length - 1]?.percent, 100, 'percent reaches 100');
  const results = received.filter((event) => event.type === 'result');
  t.equal(results.length, 1, 'exactly one result event on the websocket');

  const stdoutEvents = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string });
  const stdoutResults = stdoutEvents.filter((event) => event.type === 'result');
  t.same(stdoutResults, results, 'stdout carries the same result event');
  const stdoutProgress = JSON.stringify(stdoutEvents.filter((event) => event.type === 'progress'));
  t.ok(
    progress.every((event) => stdoutProgress.includes(JSON.stringify(event))),
    'every websocket progress event is also on stdout',
  );
  t.same(localTempDirs(), before, 'temp material removed afterwards');
});

t.test('--no-proxy makes the copy bypass a configured proxy', async (t) => {
  const unreachableProxy = `http://user:pw@127.0.0.1:${await freePort()}`;
  const destination = join(work, 'bypass-destination');
  const { code, stderr } = await runDvm([
    'migrate',
    '--local',
    source,
    destination,
    '--proxy',
    unreachableProxy,
    '--no-proxy',
    '127.0.0.0/8',
    '--retries',
    '0',
  ]);
  t.equal(code, 0, `copied without touching the proxy (${stderr.trim().split('\n').pop()})`);
  t.same(formatDifferences(await compareTrees(source, destination)), '', 'identical');
});
