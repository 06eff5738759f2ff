// The native TLS relay (native/relay/, handed over to by agent/tunnel/handover.ts) speaks TLS 1.3
// as everyone else does: against plain node:tls peers on either side, against itself with each of
// the three suites, and against openssl s_client / s_server (which also send KeyUpdates on
// command). Data arrives whole both ways, half-closes work as rsync uses them (one side ends, the
// other still answers), and a receiver that stops reading holds the sender back.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import t from 'tap';
import { nativeRelay } from '../agent/tunnel/native-relay.js';
import { TLS13_CIPHERS } from '../agent/tunnel/tls-options.js';
import { freePort } from './support/ports.js';
import { collect, nativeClient, nativeServer, randomBytes, relayPki, sendAll, sha256, type RelayPki } from './support/relay-rig.js';

const relay = nativeRelay();
if (!relay.available) t.fail(`the native relay must be built for these tests (make build): ${relay.reason}`);

let pki: RelayPki;
t.before(async () => {
  pki = await relayPki();
});
t.teardown(() => pki.cleanup());

const MiB = 1 << 20;

t.test('native client against a plain node:tls server (session tickets and all), both directions, half-close', async (t) => {
  const upload = randomBytes(8 * MiB);
  const download = randomBytes(6 * MiB);
  let received: Promise<Buffer> | undefined;
  const server = createTlsServer(
    { ca: pki.server.ca, cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', allowHalfOpen: true },
    (socket) => {
      // Like an rsync daemon: it speaks first, reads everything, then answers after the client ended.
      socket.write('@RSYNCD: 31.0\n');
      received = collect(socket as unknown as Socket);
      void received.then(() => sendAll(socket as unknown as Socket, download));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { app, relay } = await nativeClient((server.address() as { port: number }).port, pki);
  const got = collect(app);
  await sendAll(app, upload);
  const [fromServer, result] = await Promise.all([got, relay.done]);
  t.equal(sha256((await received)!), sha256(upload), 'the server got every byte the client sent');
  t.equal(
    sha256(fromServer),
    sha256(Buffer.concat([Buffer.from('@RSYNCD: 31.0\n'), download])),
    'the client got the greeting and every byte after its own end',
  );
  t.equal(result.code, null, `a clean end (${result.message})`);
  t.ok(result.closeNotifyReceived, "the server's close_notify was read");
  t.equal(result.bytesToPlain, fromServer.length);
  server.close();
});

t.test('a plain node:tls client against the native server, both directions, half-close', async (t) => {
  const server = await nativeServer(pki);
  const upload = randomBytes(8 * MiB);
  const client = tlsConnect({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    ca: pki.client.ca,
    cert: pki.client.cert,
    key: pki.client.key,
    minVersion: 'TLSv1.3',
    allowHalfOpen: true,
  } as never) as TLSSocket;
  await once(client, 'secureConnect');
  const back = collect(client as unknown as Socket);
  void sendAll(client as unknown as Socket, upload);
  const end = await server.next();
  const atServer = await collect(end.app);
  // rsync's daemon answers after the client's end: the other direction is still open.
  await sendAll(end.app, Buffer.from(sha256(atServer)));
  const [answer, result] = await Promise.all([back, end.relay.done]);
  t.equal(sha256(atServer), sha256(upload), 'the native server delivered every byte');
  t.equal(answer.toString(), sha256(upload), "its answer after the client's end arrived");
  t.equal(result.code, null, `a clean end (${result.message})`);
  t.ok(result.closeNotifyReceived);
  server.close();
});

for (const suite of TLS13_CIPHERS.split(':')) {
  t.test(`native against native with ${suite}, with key updates every 64 records on both sides`, async (t) => {
    const server = await nativeServer(pki, { keyUpdateAfter: 64 });
    // The client offers only this suite, so this suite it is.
    const clientEnd = await nativeClient(server.port, pki, { keyUpdateAfter: 64 }, suite);
    const up = randomBytes(24 * MiB);
    const down = randomBytes(16 * MiB);
    const clientGot = collect(clientEnd.app);
    void sendAll(clientEnd.app, up);
    const serverEnd = await server.next();
    t.equal(serverEnd.tls.getCipher().standardName, suite, `negotiated ${suite}`);
    const serverGot = collect(serverEnd.app);
    await sendAll(serverEnd.app, down);
    const [a, b, clientResult, serverResult] = await Promise.all([serverGot, clientGot, clientEnd.relay.done, serverEnd.relay.done]);
    t.equal(sha256(a), sha256(up), 'client -> server intact');
    t.equal(sha256(b), sha256(down), 'server -> client intact');
    t.equal(clientResult.code, null, clientResult.message);
    t.equal(serverResult.code, null, serverResult.message);
    t.ok(
      clientResult.keyUpdatesOut >= 20 && serverResult.keyUpdatesIn === clientResult.keyUpdatesOut,
      `the client rekeyed ${clientResult.keyUpdatesOut} times and the server followed`,
    );
    t.ok(
      serverResult.keyUpdatesOut > 0 && clientResult.keyUpdatesIn === serverResult.keyUpdatesOut,
      `the server rekeyed ${serverResult.keyUpdatesOut} times and the client followed`,
    );
    server.close();
  });
}

t.test('a receiver that stops reading holds the sender back, and then everything arrives', async (t) => {
  const server = await nativeServer(pki);
  const client = await nativeClient(server.port, pki);
  const data = randomBytes(64 * MiB);
  let sent = false;
  const sending = sendAll(client.app, data).then(() => {
    sent = true;
  });
  const serverEnd = await server.next();
  serverEnd.app.pause();
  await new Promise((resolve) => setTimeout(resolve, 700));
  t.notOk(sent, 'with the receiver paused the sender cannot finish (socket buffers are far below 64 MiB)');
  const got = collect(serverEnd.app);
  serverEnd.app.resume();
  await sending;
  serverEnd.app.end();
  t.equal(sha256(await got), sha256(data), 'all of it arrived once the receiver read again');
  const [a, b] = await Promise.all([client.relay.done, serverEnd.relay.done]);
  t.equal(a.code, null, a.message);
  t.equal(b.code, null, b.message);
  server.close();
});

interface OpensslRun {
  stdout: Promise<string>;
  write(text: string): void;
  end(): void;
  exited: Promise<number | null>;
  alive(): boolean;
  stderr(): string;
}

function openssl(args: string[]): OpensslRun {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    stdout: exited.then(() => stdout),
    write: (text) => child.stdin.write(text),
    end: () => child.stdin.end(),
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    stderr: () => stderr,
  };
}

// s_server with `-naccept 1` must not be probed for readiness (a probe would be its one
// connection), so the client itself retries until it gets in. A port that freePort() saw free
// can still be taken before s_server binds it (CI runs suites in parallel): then s_server exits
// at once, and we start it again on another port rather than retry a dead port for 10 s.
async function connectToSServer(
  start: (port: number) => OpensslRun,
  pki: RelayPki,
): Promise<{ server: OpensslRun; client: Awaited<ReturnType<typeof nativeClient>> }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = start(port);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return { server, client: await nativeClient(port, pki) };
      } catch (error) {
        if (!server.alive()) break;
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    if (attempt === 3) throw new Error(`openssl s_server exited before accepting: ${server.stderr().trim()}`);
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256']) {
  t.test(`native client against openssl s_server (${suite}), with a KeyUpdate the server requests an answer to`, async (t) => {
    const { server, client } = await connectToSServer(
      (port) =>
        openssl([
          's_server',
          '-accept',
          `127.0.0.1:${port}`,
          '-naccept',
          '1',
          '-tls1_3',
          '-ciphersuites',
          suite,
          '-cert',
          pki.files.serverCert,
          '-key',
          pki.files.serverKey,
          '-CAfile',
          pki.files.ca,
          '-Verify',
          '1',
        ]),
      pki,
    );
    t.equal(client.tls.getCipher().standardName, suite);
    let fromServer = '';
    client.app.on('data', (chunk: Buffer) => {
      fromServer += chunk.toString();
    });
    const appEnded = once(client.app, 'end');
    client.app.write('line one from the client\n');
    server.write('line one from the server\n');
    await waitFor(() => fromServer.includes('line one from the server'), 'the first server line');
    server.write('K\n'); // s_server: send a KeyUpdate with update_requested
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.write('line two, under the new key\n');
    client.app.write('line two from the client, under ours\n');
    await waitFor(() => fromServer.includes('line two'), 'the second server line');
    client.app.end();
    const result = await client.relay.done;
    await appEnded;
    const printed = await server.stdout;
    t.match(printed, /line one from the client[\s\S]*line two from the client, under ours/, 's_server read both client lines');
    t.match(fromServer, /line one from the server\n[\s\S]*line two, under the new key\n/, 'the client got both server lines');
    t.equal(result.keyUpdatesIn, 1, "the server's KeyUpdate was taken");
    t.equal(result.keyUpdatesOut, 1, 'and answered with ours, as it asked');
    t.equal(result.code, null, `a clean end (${result.message})`);
  });

  t.test(`openssl s_client (${suite}) against the native server, with a KeyUpdate the client requests an answer to`, async (t) => {
    const server = await nativeServer(pki);
    const client = openssl([
      's_client',
      '-connect',
      `127.0.0.1:${server.port}`,
      '-servername',
      'localhost',
      '-tls1_3',
      '-ciphersuites',
      suite,
      '-cert',
      pki.files.clientCert,
      '-key',
      pki.files.clientKey,
      '-CAfile',
      pki.files.ca,
      '-verify_return_error',
    ]);
    client.write('hello from s_client\n');
    const end = await server.next();
    t.equal(end.tls.getCipher().standardName, suite);
    let atServer = '';
    end.app.on('data', (chunk: Buffer) => {
      atServer += chunk.toString();
    });
    const appEnded = once(end.app, 'end');
    end.app.write('hello from the native server\n');
    await waitFor(() => atServer.includes('hello from s_client'), 'the client line');
    client.write('K\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.write('after the key update\n');
    await waitFor(() => atServer.includes('after the key update'), 'the line after the KeyUpdate');
    end.app.write('and an answer under our new key\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.end(); // s_client: close_notify at the end of its input
    await appEnded;
    end.app.end();
    const result = await end.relay.done;
    const printed = await client.stdout;
    t.match(printed, /hello from the native server[\s\S]*and an answer under our new key/, 's_client read both server lines');
    t.equal(result.keyUpdatesIn, 1);
    t.equal(result.keyUpdatesOut, 1);
    t.ok(result.closeNotifyReceived, "s_client's close_notify was read");
    // s_client exits right after its close_notify: ours may find the socket closed.
    t.ok(result.code === null || result.code === 'ERR_RELAY_NET_IO', `ended cleanly on our side (${result.code}: ${result.message})`);
    server.close();
  });
}
