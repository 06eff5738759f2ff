// The progress server's plain HTTP side: the page's static files to anyone who can reach the
// listener (they hold no data), and /metrics, /snapshot and /progress (which only upgrades) behind
// the access rules of access.ts. Websocket upgrades are answered by upgrade.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { checkDataAccess, type AccessDecision } from './access.js';
import type { ProgressAggregate } from './aggregate.js';
import type { ProgressMetrics } from './metrics.js';
import type { PageAsset } from './page-assets.js';

export type ProgressLogger = Pick<Logger, 'info' | 'warn' | 'debug'>;

export interface RouteContext {
  aggregate: ProgressAggregate;
  token: string | undefined;
  logger: ProgressLogger;
  assets: Map<string, PageAsset>;
  metrics: ProgressMetrics;
}

/** The one origin the parser needs to read a request's path and query. */
export function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://progress.invalid');
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

const DATA_PATHS = new Set(['/metrics', '/snapshot', '/progress']);

export function handleRequest(context: RouteContext, req: IncomingMessage, res: ServerResponse): void {
  serve(context, req, res).catch((error: Error) => {
    context.logger.warn({ err: error.message }, 'progress request failed');
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}

async function serve(context: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = requestUrl(req);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const asset = context.assets.get(url.pathname);
  if (asset) {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return;
  }
  if (!DATA_PATHS.has(url.pathname)) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  const decision = checkDataAccess(req, url, context.token);
  if (!decision.ok) {
    context.logger.warn({ path: url.pathname, reason: decision.reason }, 'progress request refused');
    deny(res, decision);
    return;
  }
  await serveData(context, url.pathname, res);
}

async function serveData(context: RouteContext, path: string, res: ServerResponse): Promise<void> {
  if (path === '/progress') {
    res.writeHead(426, { upgrade: 'websocket', 'content-type': 'text/plain; charset=utf-8' }).end('use a websocket client\n');
  } else if (path === '/metrics') {
    const text = await context.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': context.metrics.registry.contentType, 'cache-control': 'no-store' }).end(text);
  } else {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(context.aggregate.snapshot()));
  }
}

function deny(res: ServerResponse, decision: Extract<AccessDecision, { ok: false }>): void {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (decision.status === 401) headers['www-authenticate'] = 'Bearer realm="dvm-progress"';
  res.writeHead(decision.status, headers).end(`${decision.reason}\n`);
}
