// Rigs for the native relay tests: a run-like PKI (also as files, for openssl), the agent's own
// client dialer and server listener with the hand-over (the code the agents run), an "app" socket
// pair standing in for rsync, and a few stream helpers.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { createCertificateAuthority, issueCertificate } from '../../controller/pki/pki.js';
import { dialTunnel } from '../../agent/tunnel/dial.js';
import { handOver, handoverOf, prepareClientHandover, type HandOverOptions, type RunningRelay } from '../../agent/tunnel/handover.js';
import { createTunnelListener } from '../../agent/tunnel/listener.js';
import type { TlsMaterial } from '../../agent/tunnel/tls-options.js';

export interface RelayPki {
  dir: string;
  server: TlsMaterial;
  client: TlsMaterial;
  files: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  cleanup(): void;
}

export async function relayPki(): Promise<RelayPki> {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-relay-'));
  const ca = await createCertificateAuthority('relay-test-ca');
  const server = await issueCertificate(ca, { commonName: 'server', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const client = await issueCertificate(ca, { commonName: 'client', usage: 'client' });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const files = {
    ca: write('ca.crt', ca.certPem),
    serverCert: write('server.crt', server.certPem),
    serverKey: write('server.key', server.keyPem),
    clientCert: write('client.crt', client.certPem),
    clientKey: write('client.key', client.keyPem),
  };
  const material = (pair: { certPem: string; keyPem: string }): TlsMaterial => ({
    ca: Buffer.from(ca.certPem),
    cert: Buffer.from(pair.certPem),
    key: Buffer.from(pair.keyPem),
  });
  return { dir, server: material(server), client: material(client), files, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Two ends of a loopback TCP connection: the app's (rsync's stand-in) and the relay's. */
export async function localPair(): Promise<[app: Socket, relaySide: Socket]> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const app = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  const [relaySide] = await Promise.all([
    new Promise<Socket>((resolve) => server.once('connection', resolve)),
    new Promise<void>((resolve) => app.once('connect', resolve)),
  ]);
  server.close();
  return [app, relaySide];
}

export interface RelayEnd {
  app: Socket;
  relay: RunningRelay;
  tls: TLSSocket;
}

/** The agent's client side: dialTunnel with the hand-over, then the native relay to an app socket.
 * With `suite`, the same hand-over on a connection that offers that TLS 1.3 suite only. */
export async function nativeClient(port: number, pki: RelayPki, options: HandOverOptions = {}, suite?: string): Promise<RelayEnd> {
  const tls =
    suite === undefined
      ? await dialTunnel({ host: '127.0.0.1', port, serverName: 'localhost', tls: pki.client, proxyUrl: '', noProxy: [], handover: true })
      : await dialOneSuite(port, pki, suite);
  const [app, plain] = await localPair();
  const relay = await handOver(tls, plain, options);
  void relay.done.then(() => tls.destroy());
  return { app, relay, tls };
}

async function dialOneSuite(port: number, pki: RelayPki, suite: string): Promise<TLSSocket> {
  const tcp = connect({ port, host: '127.0.0.1' });
  await once(tcp, 'connect');
  const prepared = prepareClientHandover(tcp);
  const suiteOptions = { minVersion: 'TLSv1.3' as const, ciphers: suite };
  const tls = tlsConnect({ socket: prepared.stream, servername: 'localhost', ca: pki.client.ca, cert: pki.client.cert, key: pki.client.key, ...suiteOptions });
  prepared.attach(tls);
  await once(tls, 'secureConnect');
  return tls;
}

/** The agent's server side: createTunnelListener with the hand-over; each connection (after its
 * first byte, as the agent waits for) goes to the native relay and an app socket. */
export async function nativeServer(pki: RelayPki, options: HandOverOptions = {}): Promise<{ port: number; next(): Promise<RelayEnd>; close(): void }> {
  const waiting: Array<(end: RelayEnd) => void> = [];
  const ready: RelayEnd[] = [];
  const listener = createTunnelListener({
    tls: pki.server,
    minVersion: 'TLSv1.3',
    handshakeTimeoutMs: 10_000,
    firstByteTimeoutMs: 10_000,
    maxConnections: 8,
    handover: true,
    onRefused: () => undefined,
    onReady: (tls) => {
      const handover = handoverOf(tls);
      if (handover === undefined) throw new Error('the listener made no hand-over');
      handover.stream.freeze();
      tls.pause();
      void localPair().then(async ([app, plain]) => {
        const relay = await handOver(tls, plain, options);
        void relay.done.then(() => tls.destroy());
        const end = { app, relay, tls };
        const taker = waiting.shift();
        if (taker) taker(end);
        else ready.push(end);
      });
    },
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    port: (listener.address() as { port: number }).port,
    next: () =>
      new Promise((resolve) => {
        const end = ready.shift();
        if (end) resolve(end);
        else waiting.push(resolve);
      }),
    close: () => listener.close(),
  };
}

/** Everything a socket delivers until its end (rejects on an error, e.g. a reset). */
export function collect(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Writes `data` in 1 MiB pieces with backpressure, then ends (unless told not to). */
export async function sendAll(socket: Socket, data: Buffer, end = true): Promise<void> {
  for (let offset = 0; offset < data.length; offset += 1 << 20) {
    if (!socket.write(data.subarray(offset, offset + (1 << 20)))) await new Promise((resolve) => socket.once('drain', resolve));
  }
  if (end) socket.end();
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
export { randomBytes };

/** A TLS 1.3 client that does its handshake with node:tls and then writes records it builds itself
 * (tls13-record.ts, with the connection's own traffic keys): well-formed, odd or hostile ones, for
 * the native server to judge. What the server sends back is opened with the server's keys. */
export interface ScriptedClient {
  /** A record protected with our key at our next sequence number. */
  seal(type: number, content: Buffer, padding?: number): Buffer;
  /** Our side of a KeyUpdate we sent: the next records use the next traffic secret. */
  rekey(): void;
  /** Raw bytes onto the wire. */
  send(...records: Buffer[]): void;
  /** The server's records so far, opened (null for one that does not open). */
  received(): Array<{ type: number; content: Buffer } | null>;
  end(): void;
  closed: Promise<void>;
}

export async function scriptedClient(port: number, pki: RelayPki): Promise<ScriptedClient> {
  const { TrafficKeys, splitRecords, countRecordsUnder } = await import('../../agent/tunnel/tls13-record.js');
  const { TrafficSecrets } = await import('../../agent/tunnel/traffic-secrets.js');
  const tcp = connect({ port, host: '127.0.0.1' });
  await once(tcp, 'connect');
  const prepared = prepareClientHandover(tcp);
  const tls = tlsConnect({
    socket: prepared.stream,
    servername: 'localhost',
    ca: pki.client.ca,
    cert: pki.client.cert,
    key: pki.client.key,
    minVersion: 'TLSv1.3',
  });
  const secrets = new TrafficSecrets();
  tls.on('keylog', secrets.take);
  tls.once('secure', () => prepared.stream.freeze());
  await once(tls, 'secureConnect');
  while (!prepared.stream.idle) await new Promise((resolve) => setTimeout(resolve, 1));
  const suite = tls.getCipher().standardName as import('../../agent/tunnel/tls13-record.js').Tls13Suite;
  const traffic = secrets.forRole('client');
  if (traffic === null) throw new Error('no traffic secrets');
  let ours = new TrafficKeys(suite, traffic.write);
  let ourSecret = traffic.write;
  const theirs = new TrafficKeys(suite, traffic.read);
  let writeSeq = BigInt(countRecordsUnder(ours, prepared.stream.writtenRecords) ?? 0);
  const readStart = countRecordsUnder(theirs, prepared.stream.fedRecords) ?? 0;
  let raw = prepared.stream.takeHeld();
  tcp.on('data', (chunk: Buffer) => {
    raw = Buffer.concat([raw, chunk]);
  });
  const closed = new Promise<void>((resolve) => tcp.once('close', () => resolve()));
  tcp.on('error', () => undefined);
  return {
    seal: (type, content, padding = 0) => ours.seal(writeSeq++, type, content, padding),
    rekey: () => {
      ourSecret = TrafficKeys.nextSecret(suite, ourSecret);
      ours = new TrafficKeys(suite, ourSecret);
      writeSeq = 0n;
    },
    send: (...records) => {
      for (const record of records) tcp.write(record);
    },
    received: () => {
      // The server may rekey: follow its KeyUpdates as a peer would.
      let keys = theirs;
      let secret = traffic.read;
      let seq = BigInt(readStart);
      return splitRecords(raw).records.map((record) => {
        const opened = keys.open(seq++, record);
        if (opened?.type === 22 && opened.content[0] === 24) {
          secret = TrafficKeys.nextSecret(suite, secret);
          keys = new TrafficKeys(suite, secret);
          seq = 0n;
        }
        return opened;
      });
    },
    end: () => tcp.end(),
    closed,
  };
}
