// The real agents use the native relay by default (the server says so per connection when it ends),
// keep working with the JavaScript relay when it is off (DVM_TUNNEL_RELAY=js, the same path as an
// addon that failed to build) and say so in one log line, and interoperate across the two (an
// upgrade may meet an agent of the other kind). No log line carries key material.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createRig, type Rig } from './support/agents.js';
import { compareTrees, formatDifferences, generateTree } from './support/tree.js';

let rig: Rig;
let work: string;
let source: string;
t.before(async () => {
  rig = await createRig();
  work = mkdtempSync(join(tmpdir(), 'dvm-relay-agents-'));
  source = join(work, 'source');
  await generateTree(source, { files: 60, bigFileBytes: 8 << 20 });
});
t.teardown(() => {
  rig.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const FALLBACK_LINE = 'native TLS relay unavailable (DVM_TUNNEL_RELAY=js): tunnel bytes go through the JavaScript relay';

async function copyWith(name: string, server: 'native' | 'js', client: 'native' | 'js') {
  const destination = join(work, name);
  const saved = process.env.DVM_TUNNEL_RELAY;
  if (server === 'js') process.env.DVM_TUNNEL_RELAY = 'js';
  else delete process.env.DVM_TUNNEL_RELAY;
  const serverAgent = await rig.startServer(destination);
  if (saved === undefined) delete process.env.DVM_TUNNEL_RELAY;
  else process.env.DVM_TUNNEL_RELAY = saved;
  const clientAgent = rig.startClient(rig.clientConfig({ port: serverAgent.port, destination }, source), client === 'js' ? { DVM_TUNNEL_RELAY: 'js' } : {});
  const { exitCode } = await clientAgent.done;
  // The server's relay ends (and says so) right after the client's: give it a moment.
  const deadline = Date.now() + 3_000;
  while (server === 'native' && Date.now() < deadline && !serverAgent.logLines.some((line) => line.msg === 'tunnel relay ended')) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await serverAgent.stop();
  return { exitCode, destination, serverLog: serverAgent.logLines, clientLog: clientAgent.stderr.join('\n') };
}

t.test('by default both agents relay natively, and every relay ends cleanly', async (t) => {
  const run = await copyWith('native', 'native', 'native');
  t.equal(run.exitCode, 0);
  t.same(formatDifferences(await compareTrees(source, run.destination)), '', 'the tree arrived');
  const ended = run.serverLog.filter((line) => line.msg === 'tunnel relay ended');
  t.ok(ended.length >= 1, `the server relayed natively (${ended.length} connections)`);
  t.ok(
    ended.every((line) => line.code === null),
    'each with close_notify both ways',
  );
  t.ok(
    ended.some((line) => (line.bytesIn as number) > 1_000_000),
    "the copy's bytes went through it",
  );
  t.notMatch(run.clientLog, /JavaScript relay/, 'the client did not fall back');
  t.notOk(
    run.serverLog.some((line) => /JavaScript relay/.test(String(line.msg))),
    'nor the server',
  );
  const everything = `${JSON.stringify(run.serverLog)}\n${run.clientLog}`;
  t.notMatch(everything, /TRAFFIC_SECRET|[0-9a-f]{64}/i, 'no traffic secret (nor anything shaped like one) in the logs');
});

t.test('DVM_TUNNEL_RELAY=js: the JavaScript relay, said once per agent', async (t) => {
  const run = await copyWith('js', 'js', 'js');
  t.equal(run.exitCode, 0);
  t.same(formatDifferences(await compareTrees(source, run.destination)), '', 'the tree arrived');
  t.equal(run.serverLog.filter((line) => line.msg === FALLBACK_LINE).length, 1, 'the server says it once');
  t.equal(run.clientLog.split(FALLBACK_LINE).length - 1, 1, 'the client says it once');
  t.notOk(
    run.serverLog.some((line) => line.msg === 'tunnel relay ended'),
    'no native relay ran',
  );
});

for (const [server, client] of [
  ['native', 'js'],
  ['js', 'native'],
] as const) {
  t.test(`a ${server} server with a ${client} client`, async (t) => {
    const run = await copyWith(`${server}-${client}`, server, client);
    t.equal(run.exitCode, 0);
    t.same(formatDifferences(await compareTrees(source, run.destination)), '', 'the tree arrived');
    t.equal(
      run.serverLog.some((line) => line.msg === 'tunnel relay ended' && line.code === null),
      server === 'native',
    );
  });
}

t.test('a connection that negotiated TLS 1.2 (a server that allows it) stays with the JavaScript relay', async (t) => {
  const destination = join(work, 'tls12');
  const server = await rig.startServer(destination, { tlsMinVersion: 'TLSv1.2' });
  const clientFiles = rig.writePair('tls12-client', rig.pki.clients[Object.keys(rig.pki.clients)[0]!]!);
  // A real rsync through openssl s_client speaking TLS 1.2: no agent on the client side.
  const connectProg = [
    'openssl',
    's_client',
    '-quiet',
    '-tls1_2',
    '-connect',
    `127.0.0.1:${server.port}`,
    '-servername',
    'localhost',
    '-cert',
    clientFiles.cert,
    '-key',
    clientFiles.key,
    '-CAfile',
    join(rig.dir, 'ca.crt'),
    '-verify_return_error',
  ].join(' ');
  const { spawnSync } = await import('node:child_process');
  const rsync = spawnSync('rsync', ['-aH', `${source}/`, 'rsync://localhost/data/'], {
    env: { ...process.env, RSYNC_CONNECT_PROG: `${connectProg} 2>/dev/null` },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(rsync.status, 0, `rsync over TLS 1.2 exits 0 (${rsync.stderr})`);
  t.same(formatDifferences(await compareTrees(source, destination)), '', 'the tree arrived');
  t.ok(
    server.logLines.some((line) => line.msg === 'this connection stays with the JavaScript relay' && /TLSv1\.2/.test(String(line.reason))),
    'the server said why it kept it',
  );
  await server.stop();
});
