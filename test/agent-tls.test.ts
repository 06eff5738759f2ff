// Nobody without this run's client certificate gets an rsync; a client never talks to a server that
// is not the one it was told about.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createCertificateAuthority, issueCertificate } from '../controller/pki/pki.js';
import { createRig, type Rig, type ServerAgent } from './support/agents.js';
import { generateTree } from './support/tree.js';

let rig: Rig;
let server: ServerAgent;
let work: string;
let source: string;
let destination: string;

t.before(async () => {
  rig = await createRig();
  work = mkdtempSync(join(tmpdir(), 'dvm-tls-'));
  source = join(work, 'source');
  destination = join(work, 'destination');
  await generateTree(source, { files: 20 });
  server = await rig.startServer(destination);
});
t.teardown(() => {
  rig.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A raw TLS client: resolves with how the server answered. */
function rawAttempt(options: { cert?: string; key?: string }): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: rig.pki.ca.certPem, ...options });
    socket.once('secureConnect', () => socket.write('@RSYNCD: 32.0\n'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('data', () => resolve('data'));
    socket.once('close', () => resolve('closed'));
  });
}

t.test('a client without a certificate is refused before rsync', async (t) => {
  const outcome = await rawAttempt({});
  t.not(outcome, 'data', `refused (${outcome})`);
  t.equal(await server.metric('dvm_server_rsync_spawned_total'), 0, 'no rsync was spawned');
  t.ok((await server.metric('dvm_server_connections_refused_total', 'reason="no-client-certificate"')) >= 1, 'counted as no-client-certificate');
});

t.test('clients with a foreign-CA or an expired certificate are refused and told so', async (t) => {
  const foreignCa = await createCertificateAuthority('someone-else');
  const foreign = rig.writePair('foreign', await issueCertificate(foreignCa, { commonName: 'intruder', usage: 'client' }));
  const expired = rig.writePair(
    'expired',
    await issueCertificate(rig.pki.ca, {
      commonName: 'old-client',
      usage: 'client',
      notBefore: new Date(Date.now() - 3 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    }),
  );
  for (const [name, pair] of [
    ['foreign CA', foreign],
    ['expired', expired],
  ] as const) {
    const config = rig.clientConfig({ port: server.port, destination }, source);
    const client = rig.startClient({ ...config, tls: { ...config.tls, ...pair } });
    const { exitCode, result } = await client.done;
    t.not(exitCode, 0, `${name}: non-zero exit`);
    t.equal(result?.status, 'Failed', `${name}: Failed`);
    t.equal(result?.attempts, 1, `${name}: not retried (a refused certificate will not fix itself)`);
    t.match(result?.message ?? '', /refused our client certificate/, `${name}: the message says the certificate was refused`);
  }
  t.equal(await server.metric('dvm_server_rsync_spawned_total'), 0, 'still no rsync spawned');
  t.ok((await server.metric('dvm_server_connections_refused_total', 'reason="certificate-expired"')) >= 1, 'the expired one is counted as expired');
});

t.test('a server certificate for another name is refused by the client', async (t) => {
  const config = rig.clientConfig({ port: server.port, destination }, source);
  const client = rig.startClient({ ...config, server: { ...config.server, serverName: 'not-the-server.example' } });
  const { exitCode, result } = await client.done;
  t.not(exitCode, 0);
  t.equal(result?.attempts, 1, 'not retried');
  t.match(result?.message ?? '', /not valid for not-the-server\.example/);
});

t.test('the real client still gets through after all that', async (t) => {
  const client = rig.startClient(rig.clientConfig({ port: server.port, destination }, source));
  const { exitCode } = await client.done;
  t.equal(exitCode, 0);
  t.equal(await server.metric('dvm_server_rsync_spawned_total'), 1, 'exactly one rsync, for the real client');
});
