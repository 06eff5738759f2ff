// Issue 5, scenario 6 (+8): attacks on the server port, from another host. Each is refused, rsync
// is never spawned for it, and the server keeps serving the real client, also while a herd of
// silent sockets hangs on it. No key material shows up in any output.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createCertificateAuthority, issueCertificate } from '../../controller/pki/pki.js';
import { compareTrees, formatDifferences, generateTree } from '../support/tree.js';
import { runAttack, sawRsync, type AttackConnection } from './support/attack.js';
import { eventStreamProblems, leakedSecrets } from './support/checks.js';
import { createFaultRig, MODULE, SERVER_NAME } from './support/fault-rig.js';
import { waitFor } from './support/processes.js';

const HANDSHAKE_TIMEOUT_MS = 3_000;

function openFds(pid: number | undefined): number {
  return pid ? readdirSync(`/proc/${pid}/fd`).length : -1;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}
const FIRST_BYTE_TIMEOUT_MS = 3_000;

t.test('attacks on the server port are refused before rsync, and the real client still gets through', async (t) => {
  const rig = await createFaultRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-attacks-'));
  t.teardown(async () => {
    await rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const destination = join(work, 'destination');
  const server = await rig.startServer(destination, { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, firstByteTimeoutMs: FIRST_BYTE_TIMEOUT_MS });

  const otherCa = await createCertificateAuthority('dvm-ca-an-older-run');
  const otherCaClient = rig.writePair('other-ca-client', await issueCertificate(otherCa, { commonName: 'dvm-client-faults', usage: 'client' }));
  const day = 24 * 60 * 60 * 1000;
  const expiredClient = rig.writePair(
    'expired-client',
    await issueCertificate(rig.pki.ca, {
      commonName: 'dvm-client-faults',
      usage: 'client',
      notBefore: new Date(Date.now() - 3 * day),
      notAfter: new Date(Date.now() - day),
    }),
  );
  const validClient = rig.files.client;

  const refusedBefore = await server.metric('dvm_server_connections_refused_total');
  const cases: Array<{ name: string; run: () => Promise<AttackConnection[]>; reason: RegExp }> = [
    { name: 'plain TCP garbage', run: () => runAttack(rig, 'garbage'), reason: /./ },
    { name: 'rsync protocol in clear text', run: () => runAttack(rig, 'rsync-plaintext'), reason: /./ },
    { name: 'TLS without a client certificate', run: () => runAttack(rig, 'no-cert'), reason: /no-client-certificate|certificate/ },
    {
      name: 'client certificate from another CA (a replayed one from an older run)',
      run: () => runAttack(rig, 'other-ca', otherCaClient),
      reason: /certificate/,
    },
    { name: 'expired client certificate from the run CA', run: () => runAttack(rig, 'expired', expiredClient), reason: /expired|certificate/ },
    {
      name: "the server's own certificate presented as a client certificate",
      run: () => runAttack(rig, 'server-cert-as-client', rig.files.server),
      reason: /certificate/,
    },
    { name: 'TLS 1.2-only client with a valid certificate', run: () => runAttack(rig, 'tls12-only', validClient), reason: /protocol|version|handshake/ },
    { name: 'slowloris: connects and never speaks', run: () => runAttack(rig, 'slowloris', { giveUpMs: HANDSHAKE_TIMEOUT_MS * 8 }), reason: /timeout/ },
    {
      name: 'authenticated but silent',
      run: () => runAttack(rig, 'silent-authenticated', { ...validClient, giveUpMs: FIRST_BYTE_TIMEOUT_MS * 8 }),
      reason: /idle/,
    },
  ];

  for (const attack of cases) {
    const [connection] = await attack.run();
    t.ok(connection, `${attack.name}: attacker ran`);
    if (!connection) continue;
    t.notOk(sawRsync(connection), `${attack.name}: no rsync greeting came back`);
    t.equal(connection.closedBy, 'server', `${attack.name}: the server closed the connection (${connection.error ?? 'closed'} after ${connection.ms} ms)`);
  }

  t.equal(await server.metric('dvm_server_rsync_spawned_total'), 0, 'rsync was never spawned for an attacker');
  const refusedAfter = await server.metric('dvm_server_connections_refused_total');
  t.ok(refusedAfter - refusedBefore >= 7, `refusals were counted (${refusedAfter - refusedBefore})`);
  for (const reason of ['handshake-timeout', 'idle']) {
    t.ok((await server.metric('dvm_server_connections_refused_total', `reason="${reason}"`)) >= 1, `refused{reason="${reason}"} counted`);
  }
  const refusals = server.logLines.filter((line) => line.msg === 'connection refused').map((line) => String(line.reason));
  t.ok(refusals.length >= 7, `the server logged each refusal (${[...new Set(refusals)].join(', ')})`);

  // The server keeps serving: a herd of silent sockets hangs on it while the real client copies,
  // and every socket it held is released afterwards.
  const source = join(work, 'source');
  await generateTree(source, { files: 200 });
  const fdsBefore = openFds(server.pid);
  const herd = runAttack(rig, 'slowloris', { count: 40, giveUpMs: HANDSHAKE_TIMEOUT_MS * 8 });
  const client = rig.startClient(rig.clientConfig(source, destination));
  const { exitCode, result } = await client.done;
  t.equal(exitCode, 0, `the real client succeeds during the herd (${client.stderr.slice(-2).join(' | ')})`);
  t.equal(result?.status, 'Succeeded');
  t.same(eventStreamProblems(client.events), [], 'the client event stream keeps its promises');
  t.equal(formatDifferences(await compareTrees(source, destination)), '', 'the tree arrived identical');
  const herdResults = await herd;
  t.equal(herdResults.filter((c) => c.closedBy === 'server').length, 40, 'every silent socket was closed by the server');
  t.equal(await server.metric('dvm_server_rsync_spawned_total'), 1, 'rsync spawned exactly once: for the real client');
  t.equal(await server.metric('dvm_server_rsync_active'), 0, 'no rsync left running');
  await waitFor(() => openFds(server.pid) <= fdsBefore + 2, 10_000, 'the server to release its sockets').catch(() => undefined);
  t.ok(openFds(server.pid) <= fdsBefore + 2, `the server released the herd's sockets (${fdsBefore} fds before, ${openFds(server.pid)} after)`);

  // Even the real client's own certificate cannot read the destination back or reach another module.
  const stolen = join(work, 'stolen');
  const rsyncBy = (...args: string[]) =>
    rig.topo.exec(rig.topo.src, 'env', [`RSYNC_CONNECT_PROG=${rig.tunnelConnectProgram(rig.clientConfig(source, destination))}`, 'rsync', ...args]);
  const pull = await rsyncBy('-a', `rsync://${SERVER_NAME}/${MODULE}/`, `${stolen}/`);
  t.not(pull.code, 0, `pulling the module fails (${lastLine(pull.stderr)})`);
  t.match(pull.stderr, /write only|write-only/i, 'because the module is write only');
  t.notOk(existsSync(stolen) && readdirSync(stolen).length > 0, 'nothing was read back');
  const list = await rsyncBy(`rsync://${SERVER_NAME}/`);
  t.notMatch(list.stdout, new RegExp(`^${MODULE}\\b`, 'm'), 'the module list shows nothing');
  const other = await rsyncBy('-a', `${source}/`, `rsync://${SERVER_NAME}/etc/`);
  t.not(other.code, 0, `another module is refused (${lastLine(other.stderr)})`);
  t.match(other.stderr, /certificate is not for module "etc"/i, "as not this certificate's");

  t.same(leakedSecrets(rig.capturedOutput(), rig.secrets()), [], 'no key material in any output');
});
