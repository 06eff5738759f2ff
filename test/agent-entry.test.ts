// The client agent's loopback entry (agent/tunnel/rsync-entry.ts): only a connection our own uid
// opened rides the tunnel; anyone else's is closed before a byte reaches the server.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { openRsyncEntry } from '../agent/tunnel/rsync-entry.js';
import { readTlsMaterial } from '../agent/tunnel/tls-options.js';
import { createRig, type Rig, type ServerAgent } from './support/agents.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

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

/** Sends rsync's daemon greeting and resolves with what came back before the socket closed. */
const GREET = `
  const s = require('node:net').connect(+process.argv[1], '127.0.0.1');
  let got = '';
  s.on('data', (d) => { got += d; if (got.includes('\\n')) s.end(); });
  s.on('connect', () => s.write('@RSYNCD: 32.0\\n'));
  s.on('error', (e) => { got += '<' + e.code + '>'; });
  s.on('close', () => { process.stdout.write(JSON.stringify(got)); });
`;

function greetAs(port: number, uid?: number): Promise<string> {
  const node = [process.execPath, '-e', GREET, String(port)];
  const [file, ...args] = uid === undefined ? node : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...node];
  return new Promise((resolve, reject) => {
    execFile(file!, args, { timeout: 15_000 }, (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as string)));
  });
}

function memoryLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  return { log: pino({ level: 'info' }, sink), lines };
}

t.test('our own connection reaches the server\'s rsync daemon', async (t) => {
  const { log } = memoryLogger();
  const config = rig.clientConfig({ port: server.port, destination: join(work, 'destination') }, work);
  const entry = await openRsyncEntry({ ...config.server, tls: readTlsMaterial(config.tls), proxyUrl: '', noProxy: [] }, log);
  t.teardown(() => entry.close());
  const before = await server.metric('dvm_server_connections_total');
  t.match(await greetAs(entry.port), /^@RSYNCD: \d+/, 'the daemon greeted back through the tunnel');
  t.equal(await server.metric('dvm_server_connections_total'), before + 1, 'the server accepted one connection');
  t.equal(entry.takeStatus(), null, 'no tunnel failure recorded');
});

t.test('another uid\'s connection is closed before it reaches the server', { skip: !isRoot && 'needs root to connect as another uid' }, async (t) => {
  const { log, lines } = memoryLogger();
  const config = rig.clientConfig({ port: server.port, destination: join(work, 'destination') }, work);
  const entry = await openRsyncEntry({ ...config.server, tls: readTlsMaterial(config.tls), proxyUrl: '', noProxy: [] }, log);
  t.teardown(() => entry.close());
  const before = await server.metric('dvm_server_connections_total');
  t.notMatch(await greetAs(entry.port, NOBODY), /@RSYNCD/, 'no greeting for nobody');
  t.equal(await server.metric('dvm_server_connections_total'), before, 'the server never saw it');
  t.ok(lines.some((line) => line.msg === 'refused a local connection that is not ours (uid differs)' && line.owner === NOBODY), 'logged with the uid');
  t.equal(entry.takeStatus(), null, 'a stranger does not count as a tunnel failure of ours');
  t.match(await greetAs(entry.port), /^@RSYNCD: \d+/, 'and our own connection still works afterwards');
});
