// One HTTP listener for people and programs watching a migration:
//   /            the live web page (static files from page/)
//   /progress    websocket, schema in messages.ts (snapshot, update..., summary, close 1000)
//   /metrics     Prometheus text (own registry)
//   /snapshot    the current state as JSON, for curl
// Access rules are in access.ts; slow clients are handled in client-channel.ts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { listen, splitHostPort } from '../../contract/listen-address.js';
import { assertListenAllowed, checkDataAccess, type AccessDecision } from './access.js';
import type { ProgressAggregate, ProgressChange } from './aggregate.js';
import { ClientChannel } from './client-channel.js';
import { snapshotMessage, summaryMessage, updateMessage } from './messages.js';
import { createProgressMetrics } from './metrics.js';
import { loadPageAssets, resolvePageDir } from './page-assets.js';
import type { ProgressSnapshot } from './pvc-state.js';

export interface ProgressServerOptions {
  /** host:port; port 0 picks a free one. Non-loopback hosts need a token. */
  listen: string;
  token?: string;
  aggregate: ProgressAggregate;
  logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Bytes queued for one client above which its updates are dropped (it resyncs later). */
  highWaterBytes?: number;
  /** How long close() lets clients finish their close handshake before cutting them off. */
  closeGraceMs?: number;
  /** Where index.html, page.js, page.css live (default: found next to this module). */
  pageDir?: string;
}

export interface ProgressServer {
  /** http://host:port/ — without the token; append `?token=...` for a browser. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const DEFAULT_HIGH_WATER_BYTES = 256 * 1024;
const DEFAULT_CLOSE_GRACE_MS = 2000;

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

const silentLogger: Pick<Logger, 'info' | 'warn' | 'debug'> = {
  info: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
} as unknown as Pick<Logger, 'info' | 'warn' | 'debug'>;

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function deny(res: ServerResponse, decision: Extract<AccessDecision, { ok: false }>): void {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (decision.status === 401) headers['www-authenticate'] = 'Bearer realm="dvm-progress"';
  res.writeHead(decision.status, headers).end(`${decision.reason}\n`);
}

function denyUpgrade(socket: Duplex, status: number, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${reason}\n`);
}

export async function startProgressServer(options: ProgressServerOptions): Promise<ProgressServer> {
  const { aggregate, token } = options;
  const logger = options.logger ?? silentLogger;
  const { host } = splitHostPort(options.listen);
  assertListenAllowed(host, token, options.listen);
  const assets = loadPageAssets(resolvePageDir(options.pageDir));
  const metrics = createProgressMetrics(aggregate);
  const highWaterBytes = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
  const channels = new Set<ClientChannel>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  const resync = () => JSON.stringify(snapshotMessage(aggregate.snapshot(), true));

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://progress.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const asset = assets.get(url.pathname);
    if (asset) {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': asset.body.length });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (url.pathname !== '/metrics' && url.pathname !== '/snapshot' && url.pathname !== '/progress') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const decision = checkDataAccess(req, url, token);
    if (!decision.ok) {
      logger.warn({ path: url.pathname, reason: decision.reason }, 'progress request refused');
      deny(res, decision);
      return;
    }
    if (url.pathname === '/progress') {
      res.writeHead(426, { upgrade: 'websocket', 'content-type': 'text/plain; charset=utf-8' })
        .end('use a websocket client\n');
    } else if (url.pathname === '/metrics') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text);
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(aggregate.snapshot()));
    }
  };

  const server = createServer((req, res) => {
    handleRequest(req, res).catch((error: Error) => {
      logger.warn({ err: error.message }, 'progress request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://progress.invalid');
    if (url.pathname !== '/progress') {
      denyUpgrade(socket, 404, 'not found');
      return;
    }
    const decision = checkDataAccess(req, url, token);
    if (!decision.ok) {
      logger.warn({ path: url.pathname, reason: decision.reason }, 'progress websocket refused');
      denyUpgrade(socket, decision.status, decision.reason);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const channel = new ClientChannel(ws, { highWaterBytes, resync });
    channels.add(channel);
    metrics.clients.set(channels.size);
    ws.on('error', (error) => logger.debug({ err: error.message }, 'progress client error'));
    ws.on('close', () => {
      channels.delete(channel);
      metrics.clients.set(channels.size);
      if (channel.droppedUpdates > 0) {
        logger.debug({ droppedUpdates: channel.droppedUpdates }, 'slow progress client caught up by snapshots');
      }
    });
    const snapshot = aggregate.snapshot();
    channel.sendAlways(JSON.stringify(snapshotMessage(snapshot)));
    // A late joiner after the end gets the state and the summary, then the normal close.
    if (snapshot.finished) channel.sendFinal(JSON.stringify(summaryMessage(snapshot)));
  });

  const onChange = (change: ProgressChange) => {
    if (channels.size === 0) return;
    const data = JSON.stringify(updateMessage(change));
    for (const channel of channels) {
      const before = channel.droppedUpdates;
      channel.sendUpdate(data);
      if (channel.droppedUpdates !== before) metrics.droppedUpdates.inc();
    }
  };
  const onFinished = (snapshot: ProgressSnapshot) => {
    const data = JSON.stringify(summaryMessage(snapshot));
    for (const channel of channels) channel.sendFinal(data);
  };
  aggregate.on('change', onChange);
  aggregate.on('finished', onFinished);

  let port: number;
  try {
    port = await listen(server, options.listen, '--listen');
  } catch (error) {
    aggregate.off('change', onChange);
    aggregate.off('finished', onFinished);
    throw error;
  }
  const url = `http://${urlHost(host)}:${port}/`;
  logger.info({ url, auth: token === undefined ? 'loopback' : 'bearer token' }, 'progress server listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      aggregate.off('change', onChange);
      aggregate.off('finished', onFinished);
      const sockets = [...channels].map((channel) => channel.socket);
      await new Promise<void>((resolve) => {
        let open = sockets.length;
        if (open === 0) resolve();
        const timer = setTimeout(() => {
          for (const ws of sockets) ws.terminate();
          resolve();
        }, options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
        timer.unref();
        for (const ws of sockets) {
          ws.once('close', () => {
            if (--open === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
          if (ws.readyState === ws.OPEN) ws.close(1001, 'progress server stopping');
        }
      });
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closing;
  };

  return { url, port, close };
}
