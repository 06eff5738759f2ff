// Errors from @kubernetes/client-node, turned into one readable line. ApiException carries the HTTP
// code and the Status body as a JSON string; network failures carry a code such as ECONNREFUSED.
import { ApiException } from '@kubernetes/client-node';

/** An ApiException, also one from another copy of the client library (instanceof then fails). */
function asApiException(error: unknown): { code: number; body: unknown } | undefined {
  if (error instanceof ApiException) return error as { code: number; body: unknown };
  const candidate = error as { code?: unknown; body?: unknown; headers?: unknown } | undefined;
  return typeof candidate?.code === 'number' && 'body' in (candidate ?? {}) && 'headers' in (candidate ?? {})
    ? (candidate as { code: number; body: unknown })
    : undefined;
}

export function apiStatusCode(error: unknown): number | undefined {
  const api = asApiException(error);
  if (api) return api.code;
  const code = (error as { code?: unknown; statusCode?: unknown })?.statusCode ?? (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return apiStatusCode(error) === 404;
}

export function isAlreadyExists(error: unknown): boolean {
  return apiStatusCode(error) === 409;
}

/** One line: the API server's own message (a Pod Security refusal says exactly what it refused)
 * and the HTTP code, never the client's multi-line dump of body and headers. */
export function describeApiError(error: unknown): string {
  const api = asApiException(error);
  if (api) {
    const body = typeof api.body === 'string' ? safeJson(api.body) : api.body;
    const message = (body as { message?: string } | undefined)?.message;
    return message ? `${message} (HTTP ${api.code})` : `HTTP ${api.code}`;
  }
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const code = (error as { code?: unknown })?.code ?? cause?.code;
  const message = (error as Error)?.message ?? String(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
