// Who may read progress. Loopback without a token, anything else only with a bearer token.
//   - A non-loopback listen address without a token is refused at start.
//   - With a token, /progress, /metrics and /snapshot need `Authorization: Bearer T` or `?token=T`
//     (browsers cannot set headers on a websocket, so the page passes the query parameter).
//     The page's static files carry no data and stay public, so `/?token=T` can load them.
//   - Without a token (loopback only) the Host header must name loopback and a websocket's Origin
//     must be the page's own: a web site open in the same browser cannot read progress, neither
//     directly (cross-origin websocket) nor through DNS rebinding.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export const MIN_TOKEN_LENGTH = 16;

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/** Throws one line naming what to fix. */
export function assertListenAllowed(host: string, token: string | undefined, listen: string): void {
  if (token !== undefined) {
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new Error(`progress token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
    }
    return;
  }
  if (!isLoopbackHost(host)) {
    throw new Error(`progress listen address ${listen} is not loopback: set a token to serve progress beyond this machine`);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function tokensMatch(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function tokenFromRequest(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  return url.searchParams.get('token') ?? undefined;
}

function hostOf(hostHeader: string): string {
  const match = /^(\[[^\]]*\]|[^:]*)(:\d+)?$/.exec(hostHeader);
  return match?.[1] ?? hostHeader;
}

export type AccessDecision = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export function checkDataAccess(req: IncomingMessage, url: URL, token: string | undefined): AccessDecision {
  if (token !== undefined) {
    const given = tokenFromRequest(req, url);
    if (given === undefined) return { ok: false, status: 401, reason: 'missing bearer token' };
    if (!tokensMatch(given, token)) return { ok: false, status: 401, reason: 'wrong token' };
    return { ok: true };
  }
  return checkLoopbackRequest(req);
}

export function checkLoopbackRequest(req: IncomingMessage): AccessDecision {
  const host = req.headers.host;
  if (host === undefined || !isLoopbackHost(hostOf(host))) {
    return { ok: false, status: 403, reason: 'Host is not loopback' };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return { ok: false, status: 403, reason: 'malformed Origin' };
    }
    if (originHost !== host) return { ok: false, status: 403, reason: 'cross-origin request' };
  } else if (origin === 'null') {
    return { ok: false, status: 403, reason: 'opaque Origin' };
  }
  return { ok: true };
}
