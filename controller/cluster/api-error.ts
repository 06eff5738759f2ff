// Errors from @kubernetes/client-node, turned into one readable line. ApiException carries the HTTP
// code and the Status body as a JSON string; network failures carry a code such as ECONNREFUSED.
import { ApiException } from '@kubernetes/client-node';

export function apiStatusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown })?.statusCode ?? (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return apiStatusCode(error) === 404;
}

export function isAlreadyExists(error: unknown): boolean {
  return apiStatusCode(error) === 409;
}

export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? safeJson(error.body) : error.body;
    const message = (body as { message?: string } | undefined)?.message;
    return message ? `${message} (HTTP ${error.code})` : `HTTP ${error.code}`;
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
