// The client agent's loopback entry (agent/tunnel/rsync-entry.ts): only a connection our own uid
// opened rides the tunnel; anyone else's is closed before a byte reaches the server, whatever
// address and port it connects from, and it never counts as a failure of the migration.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { openRsyncEntry, type EntryOptions, type RsyncEntry } from '../agent/tunnel/rsync-entry.js';
import { createCertificateAuthority, issueCertificate } from '../controller/pki/pki.js';
import { readTlsMaterial } from '../agent/tunnel/tls-options.js';
import { createRig, type Rig, type ServerAgent } from './support/agents.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const asRoot = { skip: !isRoot && 'needs root to connect as another uid' };

let rig: Rig;
let server: ServerAgent;
let work: string;
t.before(async () => {
  rig = await createRig();
  work = mkdtempSync(join(tmpdir(), 'dvm-entry-'));
  server = await rig.startServer(join(work, 'destination'));
});
t.teardown(() => {
  rig.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Connects as told (argv[1]: JSON {port, tries: [{host, localAddress?, localPort?}], mode}) and
 * prints, per try, what came back before the socket closed. mode "greet" sends rsync's daemon
 * greeting and waits for a line; "reset" connects and resets at once; "half-close" connects and
 * ends its side without a byte. */
const CONNECTOR = `
  const net = require('node:net');
  const spec = JSON.parse(process.argv[1]);
  const one = (tr) => new Promise((done) => {
    let got = '';
    const s = net.connect({ port: spec.port, host: tr.host, ...(tr.localAddress ? { localAddress: tr.localAddress } : {}), ...(tr.localPort ? { localPort: tr.localPort } : {}) });
    s.setEncoding('latin1');
    s.on('data', (d) => { got += d; if (got.includes('\\n')) s.end(); });
    s.on('connect', () => {
      if (spec.mode === 'greet') s.write('@RSYNCD: 32.0\\n');
      else if (spec.mode === 'reset') s.resetAndDestroy();
      else s.end();
    });
    s.on('error', (e) => { got += '<' + e.code + '>'; });
    s.on('close', () => done(got));
    setTimeout(() => s.destroy(), 5000).unref();
  });
  (async () => {
    const out = [];
    for (const tr of spec.tries) out.push(await one(tr));
    process.stdout.write(JSON.stringify(out));
  })();
`;

interface Try {
  host: string;
  localAddress?: string;
  localPort?: number;
}

function connectAs(port: number, tries: Try[], mode: 'greet' | 'reset' | 'half-close', uid?: number): Promise<string[]> {
  const node = [process.execPath, '-e', CONNECTOR, JSON.stringify({ port, tries, mode })];
  const [file, ...args] = uid === undefined ? node : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...node];
  return new Promise((resolve, reject) => {
    execFile(file!, args, { timeout: 120_000 }, (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as string[])));
  });
}

async function greetAs(port: number, uid?: number, host = '127.0.0.1'): Promise<string> {
  return (await connectAs(port, [{ host }], 'greet', uid))[0] ?? '';
}

function memoryLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

/** An entry to our server; `pair` replaces the client certificate, `options` go to the entry. */
async function openEntry(
  t: { teardown(fn: () => unknown): void },
  log: pino.Logger,
  { pair, ...options }: EntryOptions & { pair?: { cert: string; key: string } } = {},
): Promise<RsyncEntry> {
  const config = rig.clientConfig({ port: server.port, destination: join(work, 'destination') }, work);
  const entry = await openRsyncEntry({ ...config.server, tls: readTlsMaterial({ ...config.tls, ...pair }), proxyUrl: '', noProxy: [] }, log, options);
  t.teardown(() => entry.close());
  return entry;
}

t.test("our own connection reaches the server's rsync daemon", async (t) => {
  const { log } = memoryLogger();
  const entry = await openEntry(t, log);
  const before = await server.metric('dvm_server_connections_total');
  t.match(await greetAs(entry.port), /^@RSYNCD: \d+/, 'the daemon greeted back through the tunnel');
  t.equal(await server.metric('dvm_server_connections_total'), before + 1, 'the server accepted one connection');
  t.match(await greetAs(entry.port, undefined, '::ffff:127.0.0.1'), /^@RSYNCD: \d+/, 'also from an IPv6 socket (its row is in /proc/net/tcp6, v4-mapped)');
  t.equal(await entry.takeStatus(), null, 'no tunnel failure recorded');
});

t.test("another uid's connection is closed before it reaches the server", asRoot, async (t) => {
  const { log, lines } = memoryLogger();
  const entry = await openEntry(t, log);
  const before = await server.metric('dvm_server_connections_total');
  t.notMatch(await greetAs(entry.port, NOBODY), /@RSYNCD/, 'no greeting for nobody');
  t.notMatch(await greetAs(entry.port, NOBODY, '::ffff:127.0.0.1'), /@RSYNCD/, "nor for nobody's IPv6 socket");
  t.equal(await server.metric('dvm_server_connections_total'), before, 'the server never saw it');
  t.ok(
    lines.some((line) => line.msg === 'refused a local connection that is not ours (uid differs)' && line.owner === NOBODY),
    'logged with the uid',
  );
  t.equal(await entry.takeStatus(), null, 'a stranger does not count as a tunnel failure of ours');
  t.match(await greetAs(entry.port), /^@RSYNCD: \d+/, 'and our own connection still works afterwards');
});

t.test("a stranger's socket bound to another 127.0.0.x with the entry's own port number never gets through", asRoot, async (t) => {
  // The connecting socket is 127.0.0.N:P -> 127.0.0.1:P and our accepted one 127.0.0.1:P -> 127.0.0.N:P:
  // the same two port numbers either way round. Only the whole address pair tells them apart.
  const { log } = memoryLogger();
  const entry = await openEntry(t, log);
  const before = await server.metric('dvm_server_connections_total');
  const v4: Try[] = Array.from({ length: 40 }, (_, i) => ({ host: '127.0.0.1', localAddress: `127.0.0.${i + 2}`, localPort: entry.port }));
  const v6: Try[] = Array.from({ length: 20 }, (_, i) => ({ host: '::ffff:127.0.0.1', localAddress: `::ffff:127.0.1.${i + 2}`, localPort: entry.port }));
  const answers = await connectAs(entry.port, [...v4, ...v6], 'greet', NOBODY);
  const through = answers.map((answer, i) => (/@RSYNCD/.test(answer) ? `${[...v4, ...v6][i]!.localAddress}:${entry.port}` : null)).filter((x) => x !== null);
  t.same(through, [], `none of ${answers.length} tries reached the server's rsync`);
  t.equal(await server.metric('dvm_server_connections_total'), before, 'the server never saw one');
  t.equal(await entry.takeStatus(), null, 'nothing recorded as a failure of ours');
  t.match(await greetAs(entry.port), /^@RSYNCD: \d+/, 'our own connection still works');
});

t.test("strangers that reset or half-close at once are not recorded as the migration's failure", asRoot, async (t) => {
  const { log } = memoryLogger();
  const entry = await openEntry(t, log);
  const tries: Try[] = Array.from({ length: 30 }, () => ({ host: '127.0.0.1' }));
  await connectAs(entry.port, tries, 'reset', NOBODY);
  await connectAs(entry.port, tries, 'half-close', NOBODY);
  // Give the entry time to judge the last ones.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(await entry.takeStatus(), null, 'no tunnel failure recorded');
  t.match(await greetAs(entry.port), /^@RSYNCD: \d+/, 'our own connection still works');
});

t.test('a tunnel whose local side closed first is not "the server refused our certificate"', async (t) => {
  const { log } = memoryLogger();
  const entry = await openEntry(t, log);
  // Our own uid, so the tunnel is dialled; the local side ends (or resets) before the server spoke.
  for (const mode of ['half-close', 'reset'] as const) {
    await connectAs(
      entry.port,
      Array.from({ length: 10 }, () => ({ host: '127.0.0.1' })),
      mode,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.same(await entry.takeStatus(), null, `${mode}: no tunnel failure recorded`);
  }
  t.match(await greetAs(entry.port), /^@RSYNCD: \d+/, 'and a real connection still works');
});

t.test("a refused client certificate is on record as soon as the connection's process has exited", async (t) => {
  // The client agent reads the status right after rsync exits. The refusal reaches the entry from
  // the relay (the native one reports from its own thread), and that can come after the exit.
  const foreignCa = await createCertificateAuthority('someone-else');
  const foreign = rig.writePair('foreign-entry', await issueCertificate(foreignCa, { commonName: 'intruder', usage: 'client' }));
  const { log } = memoryLogger();
  const entry = await openEntry(t, log, { pair: foreign });
  const missed: number[] = [];
  for (let round = 0; round < 20; round++) {
    t.notMatch(await greetAs(entry.port), /@RSYNCD/, `round ${round}: no greeting with a foreign certificate`);
    const status = await entry.takeStatus();
    if (status?.kind !== 'tls-refused') missed.push(round);
  }
  t.same(missed, [], 'every round: recorded as tls-refused by the time the process had exited');
});

t.test('without a way to tell who connected the entry fails closed and says why', async (t) => {
  const { log } = memoryLogger();
  const entry = await openEntry(t, log, { tables: [join(work, 'no-such-table')] });
  const before = await server.metric('dvm_server_connections_total');
  t.notMatch(await greetAs(entry.port), /@RSYNCD/, 'not served');
  t.equal(await server.metric('dvm_server_connections_total'), before, 'the server never saw it');
  t.match(await entry.takeStatus(), { kind: 'local-entry', message: /cannot tell who opened/ }, 'recorded: the agent cannot run here');
});
