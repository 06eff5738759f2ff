// Nothing a man in the middle or a misbehaving peer does gets a wrong byte past the native relay,
// or makes a cut stream look like a complete one:
//  - on the wire (a proxy between the peers): a flipped bit, a replayed, reordered or dropped record
//    end the relay with ERR_RELAY_BAD_RECORD_MAC; a stream cut between or inside records ends it
//    with ERR_RELAY_TRUNCATED; what rsync got before is exactly the start of what was sent. (Its
//    socket is reset, but a reset can reach Node as an end of stream; rsync's protocol ends in-band,
//    so an early end is rsync's error either way. What may never be clean is the relay's result.)
//  - from an authenticated peer (a client that builds its own records with the connection's keys):
//    padding, empty records, fragmented and coalesced session tickets and KeyUpdates are taken as
//    TLS 1.3 allows; anything it does not allow (messages after a KeyUpdate in its record, other
//    post-handshake messages, unprotected records, oversized records, records without a type,
//    records interleaved with a handshake message, replays) ends the relay with its code and a fatal
//    alert to the peer.
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { splitRecords } from '../agent/tunnel/tls13-record.js';
import { nativeRelay } from '../agent/tunnel/native-relay.js';
import { collect, nativeClient, nativeServer, randomBytes, relayPki, scriptedClient, sendAll, type RelayPki } from './support/relay-rig.js';

const relay = nativeRelay();
if (!relay.available) t.fail(`the native relay must be built for these tests (make build): ${relay.reason}`);

let pki: RelayPki;
t.before(async () => {
  pki = await relayPki();
});
t.teardown(() => pki.cleanup());

type Mutation = 'flip' | 'replay' | 'reorder' | 'drop' | 'cut' | 'cut-inside';
/** The record (counted from the first of the direction) the proxy goes for: well after the
 * handshake's and the session tickets' records. */
const TARGET = 40;

/** A TCP proxy that applies `mutation` to record TARGET in one direction and relays the rest. */
async function meddlingProxy(upstreamPort: number, direction: 'to-client' | 'to-server', mutation: Mutation): Promise<{ port: number; close(): void }> {
  const server = createServer((downstream) => {
    const upstream = connect({ port: upstreamPort, host: '127.0.0.1' });
    downstream.on('error', () => upstream.destroy());
    upstream.on('error', () => downstream.destroy());
    const [from, to] = direction === 'to-client' ? [upstream, downstream] : [downstream, upstream];
    const [otherFrom, otherTo] = direction === 'to-client' ? [downstream, upstream] : [upstream, downstream];
    otherFrom.pipe(otherTo);
    let pending = Buffer.alloc(0);
    let index = 0;
    let held: Buffer | null = null;
    let done = false;
    from.on('data', (chunk: Buffer) => {
      if (done) return;
      pending = Buffer.concat([pending, chunk]);
      const { records, rest } = splitRecords(pending);
      pending = Buffer.from(rest);
      for (const record of records) {
        const n = index++;
        if (n !== TARGET && n !== TARGET + 1) {
          to.write(record);
          continue;
        }
        if (mutation === 'flip' && n === TARGET) {
          const copy = Buffer.from(record);
          copy[copy.length >> 1]! ^= 0x01;
          to.write(copy);
        } else if (mutation === 'replay' && n === TARGET) {
          to.write(record);
          to.write(record);
        } else if (mutation === 'reorder') {
          if (n === TARGET) held = record;
          else to.write(Buffer.concat([record, held!]));
        } else if (mutation === 'drop' && n === TARGET) {
          // gone
        } else if (mutation === 'cut' && n === TARGET) {
          done = true;
          to.end();
          return;
        } else if (mutation === 'cut-inside' && n === TARGET) {
          done = true;
          to.end(record.subarray(0, record.length >> 1));
          return;
        } else {
          to.write(record);
        }
      }
    });
    from.on('end', () => {
      if (!done) to.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

const EXPECTED: Record<Mutation, string> = {
  flip: 'ERR_RELAY_BAD_RECORD_MAC',
  replay: 'ERR_RELAY_BAD_RECORD_MAC',
  reorder: 'ERR_RELAY_BAD_RECORD_MAC',
  drop: 'ERR_RELAY_BAD_RECORD_MAC',
  cut: 'ERR_RELAY_TRUNCATED',
  'cut-inside': 'ERR_RELAY_TRUNCATED',
};

/** The relay's result, or a failure after `ms` (a relay that let the attack through would keep
 * waiting for more, and the test should say so rather than hang). */
function within<T>(promise: Promise<T>, ms = 15_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no result within ${ms} ms: the relay did not stop`)), ms).unref()),
  ]);
}

/** What an app got before its socket failed: the data, and whether it ended cleanly. */
function outcome(app: Socket): Promise<{ data: Buffer; clean: boolean; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    app.on('data', (chunk: Buffer) => chunks.push(chunk));
    app.once('end', () => resolve({ data: Buffer.concat(chunks), clean: true }));
    app.once('error', (error: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), clean: false, error: error.code ?? error.message }));
  });
}

for (const mutation of Object.keys(EXPECTED) as Mutation[]) {
  t.test(`on the wire to the native client: ${mutation}`, async (t) => {
    const payload = randomBytes(4 << 20);
    const server = createTlsServer(
      { ca: pki.server.ca, cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
      (socket) => {
        socket.on('error', () => socket.destroy());
        socket.resume();
        void sendAll(socket as unknown as Socket, payload);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = await meddlingProxy((server.address() as { port: number }).port, 'to-client', mutation);
    const client = await nativeClient(proxy.port, pki);
    const app = outcome(client.app);
    const result = await within(client.relay.done);
    const got = await app;
    t.equal(result.code, EXPECTED[mutation], `${result.code}: ${result.message}`);
    t.ok(got.data.length < payload.length, `not everything arrived (${got.data.length} bytes; rsync's side ${got.clean ? 'ended' : `failed: ${got.error}`})`);
    t.ok(got.data.equals(payload.subarray(0, got.data.length)), 'what arrived is exactly the start of what was sent');
    proxy.close();
    server.close();
  });
}

for (const mutation of ['flip', 'cut-inside'] as const) {
  t.test(`on the wire to the native server: ${mutation}`, async (t) => {
    const server = await nativeServer(pki);
    const proxy = await meddlingProxy(server.port, 'to-server', mutation);
    const payload = randomBytes(4 << 20);
    const client = tlsConnect({
      port: proxy.port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: pki.client.ca,
      cert: pki.client.cert,
      key: pki.client.key,
      minVersion: 'TLSv1.3',
    });
    client.on('error', () => undefined);
    client.resume();
    await once(client, 'secureConnect');
    void sendAll(client as unknown as Socket, payload);
    const end = await server.next();
    const app = outcome(end.app);
    const result = await within(end.relay.done);
    const got = await app;
    t.equal(result.code, EXPECTED[mutation], `${result.code}: ${result.message}`);
    t.ok(
      got.data.length < payload.length && got.data.equals(payload.subarray(0, got.data.length)),
      'what arrived is exactly the start of what was sent, not all of it',
    );
    client.destroy();
    proxy.close();
    server.close();
  });
}

const HANDSHAKE = 22;
const ALERT = 21;
const APPLICATION_DATA = 23;
const message = (type: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
const ticket = message(4, randomBytes(200));
const keyUpdate = (requested: boolean): Buffer => message(24, Buffer.from([requested ? 1 : 0]));

t.test('from the peer, what TLS 1.3 allows: padding, empty records, tickets (fragmented, coalesced), KeyUpdates', async (t) => {
  const server = await nativeServer(pki);
  const peer = await scriptedClient(server.port, pki);
  peer.send(peer.seal(APPLICATION_DATA, Buffer.from('first ')));
  const end = await server.next();
  const got = collect(end.app);
  peer.send(
    peer.seal(APPLICATION_DATA, Buffer.from('padded '), 300),
    peer.seal(APPLICATION_DATA, Buffer.alloc(0)),
    peer.seal(APPLICATION_DATA, Buffer.alloc(0), 40),
    peer.seal(HANDSHAKE, ticket.subarray(0, 50)),
    peer.seal(HANDSHAKE, ticket.subarray(50)),
    peer.seal(HANDSHAKE, Buffer.concat([ticket, ticket])),
    peer.seal(APPLICATION_DATA, Buffer.from('after tickets ')),
    peer.seal(HANDSHAKE, keyUpdate(true)),
  );
  // Everything after our KeyUpdate goes under our next key.
  peer.rekey();
  peer.send(peer.seal(APPLICATION_DATA, Buffer.from('under the new key')));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const replies = peer.received();
  t.ok(
    replies.some((record) => record?.type === HANDSHAKE && record.content[0] === 24),
    'the server answered our requested KeyUpdate with its own',
  );
  t.ok(
    replies.every((record) => record !== null),
    'every record of the server opens (its rekey followed)',
  );
  peer.send(peer.seal(ALERT, Buffer.from([1, 0]))); // close_notify
  const data = await got;
  t.equal(data.toString(), 'first padded after tickets under the new key', 'the application data arrived, nothing else');
  end.app.end();
  const result = await within(end.relay.done);
  await peer.closed;
  t.same(peer.received().at(-1), { type: ALERT, content: Buffer.from([1, 0]) }, 'the server closed with its close_notify');
  t.equal(result.keyUpdatesIn, 1);
  t.equal(result.keyUpdatesOut, 1);
  t.equal(result.code, null, `a clean end (${result.message})`);
  server.close();
});

interface Hostile {
  name: string;
  records(peer: Awaited<ReturnType<typeof scriptedClient>>): Buffer[];
  code: string;
  /** The fatal alert the relay sends back, if one. */
  alert?: number;
}

const HOSTILE: Hostile[] = [
  {
    name: 'another handshake message after a KeyUpdate in its record',
    records: (p) => [p.seal(HANDSHAKE, Buffer.concat([keyUpdate(false), ticket]))],
    code: 'ERR_RELAY_UNEXPECTED_MESSAGE',
    alert: 10,
  },
  {
    name: 'a post-handshake CertificateRequest',
    records: (p) => [p.seal(HANDSHAKE, message(13, randomBytes(20)))],
    code: 'ERR_RELAY_UNEXPECTED_MESSAGE',
    alert: 10,
  },
  {
    name: 'a KeyUpdate with a bad request_update',
    records: (p) => [p.seal(HANDSHAKE, message(24, Buffer.from([7])))],
    code: 'ERR_RELAY_DECODE_ERROR',
    alert: 47,
  },
  { name: 'an unprotected alert record', records: () => [Buffer.from([ALERT, 3, 3, 0, 2, 2, 40])], code: 'ERR_RELAY_UNEXPECTED_MESSAGE', alert: 10 },
  { name: 'an unprotected ChangeCipherSpec', records: () => [Buffer.from([20, 3, 3, 0, 1, 1])], code: 'ERR_RELAY_UNEXPECTED_MESSAGE', alert: 10 },
  {
    name: 'a record longer than 2^14 + 256',
    records: () => [Buffer.concat([Buffer.from([APPLICATION_DATA, 3, 3, 0x41, 0x01]), randomBytes(0x4101)])],
    code: 'ERR_RELAY_RECORD_OVERFLOW',
    alert: 22,
  },
  {
    name: 'more than 2^14 bytes of plaintext in one record',
    records: (p) => [p.seal(APPLICATION_DATA, randomBytes(16_385))],
    code: 'ERR_RELAY_RECORD_OVERFLOW',
    alert: 22,
  },
  { name: 'a record that is all padding (no content type)', records: (p) => [p.seal(0, Buffer.alloc(0), 30)], code: 'ERR_RELAY_UNEXPECTED_MESSAGE', alert: 10 },
  {
    name: 'application data inside a fragmented handshake message',
    records: (p) => [p.seal(HANDSHAKE, ticket.subarray(0, 30)), p.seal(APPLICATION_DATA, Buffer.from('x'))],
    code: 'ERR_RELAY_UNEXPECTED_MESSAGE',
    alert: 10,
  },
  {
    name: 'a replayed record',
    records: (p) => {
      const record = p.seal(APPLICATION_DATA, Buffer.from('again'));
      return [record, record];
    },
    code: 'ERR_RELAY_BAD_RECORD_MAC',
    alert: 20,
  },
  { name: 'a fatal alert from the peer', records: (p) => [p.seal(ALERT, Buffer.from([2, 40]))], code: 'ERR_RELAY_PEER_ALERT' },
];

for (const hostile of HOSTILE) {
  t.test(`from the peer: ${hostile.name}`, async (t) => {
    const server = await nativeServer(pki);
    const peer = await scriptedClient(server.port, pki);
    peer.send(peer.seal(APPLICATION_DATA, Buffer.from('hello ')));
    const end = await server.next();
    const app = outcome(end.app);
    peer.send(...hostile.records(peer));
    const result = await within(end.relay.done);
    const got = await app;
    t.equal(result.code, hostile.code, `${result.code}: ${result.message}`);
    t.ok(['hello ', 'hello again'].includes(got.data.toString()), `rsync got only what came before (${JSON.stringify(got.data.toString())})`);
    if (hostile.code === 'ERR_RELAY_PEER_ALERT') t.equal(result.alert, 40, 'the alert is reported');
    await peer.closed;
    if (hostile.alert !== undefined) {
      const last = peer
        .received()
        .filter((record) => record !== null)
        .at(-1);
      t.same(
        last && { type: last.type, content: [...last.content] },
        { type: ALERT, content: [2, hostile.alert] },
        `the peer was told why: fatal alert ${hostile.alert}`,
      );
    }
    server.close();
  });
}
