// Why a tunnel could not be opened. The kind decides whether the client retries: a wrong proxy
// password or a certificate the other side refuses will not fix itself, a network blip may.

export type TunnelErrorKind =
  | 'proxy-unreachable'
  | 'proxy-auth'
  | 'proxy-refused'
  | 'server-unreachable'
  /** The server refused us (our client certificate, our TLS version), or the other end speaks no TLS. */
  | 'tls-refused'
  /** The client refused the server's certificate: wrong CA, name, purpose or validity. */
  | 'server-identity'
  /** The client's loopback entry cannot tell who connected to it (no /proc/net/tcp). */
  | 'local-entry';

const PERMANENT: ReadonlySet<TunnelErrorKind> = new Set(['proxy-auth', 'tls-refused', 'server-identity', 'local-entry']);

export function isPermanentTunnelFailure(kind: TunnelErrorKind): boolean {
  return PERMANENT.has(kind);
}

export class TunnelError extends Error {
  constructor(
    readonly kind: TunnelErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'TunnelError';
  }
}

export interface TunnelStatus {
  kind: TunnelErrorKind;
  message: string;
}
