// The controller's progress listener: websocket schema, many/late/slow clients, clean close,
// access rules, and /metrics.
import { request } from 'node:http';
import t, { type Test } from 'tap';
import { WebSocket } from 'ws';
import type { AgentEvent, ProgressEvent, ResultEvent } from '../contract/events.js';
import { ProgressAggregate } from '../controller/progress/aggregate.js';
import type { ProgressMessage } from '../controller/progress/messages.js';
import { startProgressServer, type ProgressServer } from '../controller/progress/server.js';
import { parseMetrics } from './progress-metrics-text.js';

const TOKEN = 'test-token-0123456789abcdef';

function progress(pvc: string, bytes: number, fields: Partial<ProgressEvent> = {}): ProgressEvent {
  return {
    type: 'progress',
    pvc,
    attempt: 1,
    bytes,
    totalBytes: 1_000_000,
    percent: bytes / 10_000,
    rateBps: 1000,
    etaSeconds: 5,
    files: 1,
    filesTotal: 10,
    elapsedMs: 100,
    ...fields,
  };
}

function result(pvc: string, bytes: number, status: ResultEvent['status'] = 'Succeeded', message = ''): ResultEvent {
  return { type: 'result', pvc, status, exitCode: status === 'Succeeded' ? 0 : 23, bytes, files: 10, durationMs: 1000, verified: null, attempts: 1, message };
}

/** A websocket client that records every message and how the socket closed. */
class Client {
  readonly messages: ProgressMessage[] = [];
  receivedBytes = 0;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.receivedBytes += data.length;
      this.messages.push(JSON.parse(data.toString()) as ProgressMessage);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(server: ProgressServer, options: { query?: string; headers?: Record<string, string> } = {}): Promise<Client> {
    const url = `${server.url.replace(/^http/, 'ws')}progress${options.query ?? ''}`;
    const ws = new WebSocket(url, { headers: options.headers });
    const client = new Client(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Resolves with the first message (from `from` on) that matches; a hang guard rejects after 30 s. */
  async waitFor(match: (m: ProgressMessage) => boolean, what: string, from = 0): Promise<ProgressMessage> {
    const guard = Date.now() + 30_000;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (Date.now() > guard) throw new Error(`no message: ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1000).unref();
      });
    }
  }
}

async function start(t: Test, aggregate: ProgressAggregate, token?: string): Promise<ProgressServer> {
  const server = await startProgressServer({ listen: '127.0.0.1:0', aggregate, token });
  t.teardown(() => server.close());
  return server;
}

/** fetch() does not let a caller set Host; node:http does. */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

const isUpdate = (m: ProgressMessage): m is Extract<ProgressMessage, { type: 'update' }> => m.type === 'update';

t.test('snapshot on connect, then one update per event, to every client', async (t) => {
  const agg = new ProgressAggregate(['ns/a', 'ns/b']);
  const server = await start(t, agg);
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const [one, two] = await Promise.all([Client.open(server), Client.open(server)]);
  const first = await one.waitFor(() => true, 'snapshot');
  t.equal(first.type, 'snapshot');
  if (first.type !== 'snapshot') return;
  t.equal(first.version, 1);
  t.equal(first.resync, false);
  t.equal(first.finished, false);
  t.same(
    first.pvcs.map((p) => [p.pvc, p.state]),
    [
      ['ns/a', 'Pending'],
      ['ns/b', 'Pending'],
    ],
  );
  t.equal(first.totals.pvcs, 2);

  const events: AgentEvent[] = [
    progress('ns/a', 1000),
    progress('ns/a', 5000),
    { type: 'attempt', pvc: 'ns/b', attempt: 1, exitCode: 12, reason: 'connection reset by peer', retryInMs: 1000 },
  ];
  for (const event of events) agg.apply(event);
  for (const client of [one, two]) {
    await client.waitFor((m) => isUpdate(m) && m.event.type === 'attempt', 'attempt update');
    const updates = client.messages.filter(isUpdate);
    t.same(
      updates.map((u) => u.event),
      events,
      'events arrive as the agent sent them, in order',
    );
    const last = updates[2]!;
    t.equal(last.pvc.pvc, 'ns/b');
    t.equal(last.pvc.state, 'Retrying');
    t.equal(last.pvc.message, 'connection reset by peer');
    t.equal(updates[1]!.pvc.bytes, 5000);
    t.equal(last.totals.bytes, 5000);
    t.equal(last.totals.retrying, 1);
  }
});

t.test('a late joiner gets the current state in its snapshot', async (t) => {
  const agg = new ProgressAggregate(['ns/a']);
  const server = await start(t, agg);
  agg.apply(progress('ns/a', 7000, { files: 3 }));
  agg.apply(progress('ns/b', 2000));
  const late = await Client.open(server);
  const snap = await late.waitFor((m) => m.type === 'snapshot', 'snapshot');
  if (snap.type !== 'snapshot') return;
  t.same(
    snap.pvcs.map((p) => [p.pvc, p.state, p.bytes]),
    [
      ['ns/a', 'Running', 7000],
      ['ns/b', 'Running', 2000],
    ],
  );
  t.equal(snap.totals.bytes, 9000);
  t.equal(snap.pvcs[0]!.files, 3);
});

t.test('finish sends the summary last and closes with 1000; a client joining afterwards gets the same', async (t) => {
  const agg = new ProgressAggregate(['ns/a', 'ns/b']);
  const server = await start(t, agg);
  const client = await Client.open(server);
  agg.apply(progress('ns/a', 1000));
  agg.apply(result('ns/a', 1_000_000));
  agg.apply(result('ns/b', 10, 'Failed', 'rsync exit 23: some files could not be transferred'));
  agg.finish();
  const closed = await client.closed;
  t.equal(closed.code, 1000);
  const last = client.messages.at(-1)!;
  t.equal(last.type, 'summary');
  if (last.type !== 'summary') return;
  t.equal(last.finished, true);
  t.equal(last.totals.state, 'Failed');
  t.equal(last.totals.succeeded, 1);
  t.equal(last.pvcs[1]!.message, 'rsync exit 23: some files could not be transferred');
  t.equal(client.messages.filter((m) => m.type === 'summary').length, 1);

  const late = await Client.open(server);
  const lateClosed = await late.closed;
  t.equal(lateClosed.code, 1000);
  t.same(
    late.messages.map((m) => m.type),
    ['snapshot', 'summary'],
  );
});

t.test('a client that stops reading neither stalls the producer nor the other clients, and resyncs', async (t) => {
  // Big messages (long PVC names) fill the socket buffers quickly; production is paced by the fast
  // client only, and goes on until the server reports drops for the stuck one.
  const pvc = `ns/${'x'.repeat(4000)}`;
  const agg = new ProgressAggregate([pvc]);
  const server = await start(t, agg);
  const fast = await Client.open(server);
  const slow = await Client.open(server);
  await slow.waitFor((m) => m.type === 'snapshot', 'slow snapshot');
  slow.ws.pause();
  const dropped = async () => {
    const text = await (await fetch(`${server.url}metrics`)).text();
    return Number(/^dvm_progress_dropped_updates_total (\d+)/m.exec(text)?.[1] ?? 0);
  };
  let bytes = 0;
  let sent = 0;
  while (sent < 10_000) {
    for (let i = 0; i < 20; i++) {
      bytes += 10_000;
      agg.apply(progress(pvc, bytes));
      sent++;
    }
    const expected = bytes;
    await fast.waitFor((m) => isUpdate(m) && m.pvc.bytes === expected, `fast client at ${expected}`, fast.messages.length - 20);
    if (sent % 1000 === 0 && (await dropped()) > 0) break;
  }
  t.ok((await dropped()) > 0, 'the stuck client had updates dropped');
  t.equal(fast.messages.filter(isUpdate).length, sent, 'the fast client got every update');
  t.notOk(
    fast.messages.some((m) => m.type === 'snapshot' && m.resync),
    'the fast client never needed a resync',
  );

  slow.ws.resume();
  const resync = await slow.waitFor((m) => m.type === 'snapshot' && m.resync, 'resync snapshot');
  if (resync.type !== 'snapshot') return;
  t.equal(resync.pvcs[0]!.bytes, bytes, 'the resync carries the latest state');
  t.ok(slow.receivedBytes < fast.receivedBytes / 2, `the stuck client got less (${slow.receivedBytes} < ${fast.receivedBytes})`);
  const slowUpdates = slow.messages.filter(isUpdate).map((m) => m.pvc.bytes);
  t.same(
    slowUpdates,
    [...slowUpdates].sort((a, b) => a - b),
    'what it did get is in order',
  );

  agg.apply(result(pvc, bytes));
  agg.finish();
  for (const client of [fast, slow]) {
    t.equal((await client.closed).code, 1000);
    t.equal(client.messages.at(-1)!.type, 'summary');
  }
});

t.test('access: loopback without token, bearer token otherwise', async (t) => {
  const agg = new ProgressAggregate(['a']);
  await t.rejects(startProgressServer({ listen: '0.0.0.0:0', aggregate: agg }), /not loopback.*token/);
  await t.rejects(startProgressServer({ listen: '127.0.0.1:0', aggregate: agg, token: 'short' }), /at least 16/);

  const open = await start(t, agg);
  const base = open.url;
  t.equal((await fetch(`${base}metrics`)).status, 200, 'loopback without token: metrics readable');
  t.equal(await statusWithHost(`${base}metrics`, 'evil.example'), 403, 'non-loopback Host refused (DNS rebinding)');
  t.equal(await statusWithHost(`${base}metrics`, `localhost:${open.port}`), 200, 'localhost is loopback');
  await t.rejects(Client.open(open, { headers: { origin: 'http://evil.example' } }), /HTTP 403/, 'cross-origin websocket refused');
  const sameOrigin = await Client.open(open, { headers: { origin: base.replace(/\/$/, '') } });
  sameOrigin.ws.close();

  const guarded = await start(t, agg, TOKEN);
  const url = guarded.url;
  t.equal((await fetch(url)).status, 200, 'the page itself is public (no data in it)');
  t.equal((await fetch(`${url}page.js`)).status, 200);
  t.equal((await fetch(`${url}metrics`)).status, 401);
  t.equal((await fetch(`${url}snapshot`)).status, 401);
  t.equal((await fetch(`${url}metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
  t.equal((await fetch(`${url}metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  t.equal((await fetch(`${url}snapshot?token=${TOKEN}`)).status, 200);
  await t.rejects(Client.open(guarded), /HTTP 401/, 'websocket without token refused');
  await t.rejects(Client.open(guarded, { query: '?token=nope-nope-nope-nope' }), /HTTP 401/, 'wrong token refused');
  for (const options of [{ headers: { authorization: `Bearer ${TOKEN}` } }, { query: `?token=${TOKEN}` }]) {
    const client = await Client.open(guarded, options);
    t.equal((await client.waitFor(() => true, 'snapshot')).type, 'snapshot');
    client.ws.close();
  }
});

t.test('/metrics parses and counts the bytes fed, per pvc and namespace', async (t) => {
  const agg = new ProgressAggregate(['ns1/a', 'plain']);
  const server = await start(t, agg);
  const scrape = async () => {
    const res = await fetch(`${server.url}metrics`);
    t.match(res.headers.get('content-type'), /^text\/plain/);
    return parseMetrics(await res.text());
  };
  let m = await scrape();
  t.equal(m.get('dvm_transferred_bytes_total{namespace="ns1",pvc="a"}'), 0, 'known PVCs present from the start');
  t.equal(m.get('dvm_pvc_state{namespace="ns1",pvc="a",state="Pending"}'), 1);

  agg.apply(progress('ns1/a', 123_456, { files: 7 }));
  agg.apply(progress('plain', 1000, { attempt: 1 }));
  m = await scrape();
  t.equal(m.get('dvm_transferred_bytes_total{namespace="ns1",pvc="a"}'), 123_456);
  t.equal(m.get('dvm_transferred_bytes_total{namespace="",pvc="plain"}'), 1000, 'local mode: empty namespace');
  t.equal(m.get('dvm_files_processed_total{namespace="ns1",pvc="a"}'), 7);
  t.equal(m.get('dvm_pvc_state{namespace="ns1",pvc="a",state="Running"}'), 1);
  t.equal(m.get('dvm_pvc_state{namespace="ns1",pvc="a",state="Pending"}'), 0);

  agg.apply({ type: 'attempt', pvc: 'ns1/a', attempt: 1, exitCode: 12, reason: 'reset', retryInMs: 10 });
  agg.apply(progress('ns1/a', 200_000, { attempt: 2 }));
  agg.apply(result('ns1/a', 1_000_000));
  m = await scrape();
  t.equal(m.get('dvm_transferred_bytes_total{namespace="ns1",pvc="a"}'), 1_000_000, 'counter follows across scrapes');
  t.equal(m.get('dvm_rsync_attempts_total{namespace="ns1",pvc="a"}'), 2);
  t.equal(m.get('dvm_pvc_state{namespace="ns1",pvc="a",state="Succeeded"}'), 1);
  t.equal(m.get('dvm_transfer_duration_seconds{namespace="ns1",pvc="a"}'), 1);
  t.equal(m.get('dvm_progress_percent{namespace="ns1",pvc="a"}'), 100);
  t.equal(m.get('dvm_migration_finished'), 0);
  agg.finish();
  m = await scrape();
  t.equal(m.get('dvm_migration_finished'), 1);
});
