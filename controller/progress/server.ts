// One HTTP listener for people and programs watching a migration:
//   /            the live web page (static files from page/)
//   /progress    websocket, schema in messages.ts (snapshot, update..., summary, close 1000)
//   /metrics     Prometheus text (own registry)
//   /snapshot    the current state as JSON, for curl
// Routes are in http-routes.ts, the websocket side in broadcast.ts, access rules in access.ts, slow
// clients in client-channel.ts.
import { createServer } from 'node:http';
import { listen, splitHostPort } from '../../contract/listen-address.js';
import { assertListenAllowed } from './access.js';
import type { ProgressAggregate } from './aggregate.js';
import { ProgressBroadcast } from './broadcast.js';
import { handleRequest, type ProgressLogger, type RouteContext } from './http-routes.js';
import { createProgressMetrics } from './metrics.js';
import { loadPageAssets, resolvePageDir } from './page-assets.js';

export interface ProgressServerOptions {
  /** host:port; port 0 picks a free one. Non-loopback hosts need a token. */
  listen: string;
  token?: string;
  aggregate: ProgressAggregate;
  logger?: ProgressLogger;
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

const silentLogger: ProgressLogger = {
  info: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
} as unknown as ProgressLogger;

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startProgressServer(options: ProgressServerOptions): Promise<ProgressServer> {
  const { host } = splitHostPort(options.listen);
  assertListenAllowed(host, options.token, options.listen);
  const context: RouteContext = {
    aggregate: options.aggregate,
    token: options.token,
    logger: options.logger ?? silentLogger,
    assets: loadPageAssets(resolvePageDir(options.pageDir)),
    metrics: createProgressMetrics(options.aggregate),
  };
  const server = createServer((req, res) => handleRequest(context, req, res));
  const broadcast = new ProgressBroadcast(context, options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES);
  server.on('upgrade', broadcast.upgrade);

  let port: number;
  try {
    port = await listen(server, options.listen, '--listen');
  } catch (error) {
    await broadcast.close(0);
    throw error;
  }
  const url = `http://${urlHost(host)}:${port}/`;
  context.logger.info({ url, auth: options.token === undefined ? 'loopback' : 'bearer token' }, 'progress server listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await broadcast.close(options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closing;
  };
  return { url, port, close };
}
