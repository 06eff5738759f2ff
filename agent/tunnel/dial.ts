// The client half of the tunnel: a TCP stream to the server (direct, or through the HTTP CONNECT
// proxy unless noProxy says otherwise), then TLS with the run's CA, the expected server name and
// our own client certificate.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { cipherOptions, type TlsMaterial } from './tls-options.js';
import { connectThroughProxy } from './http-connect.js';
import { bypassesProxy } from '../../contract/no-proxy.js';
import { parseProxyUrl } from '../../contract/proxy-url.js';
import { TunnelError } from './tunnel-error.js';
import { prepareClientHandover } from './handover.js';
import { nativeRelay } from './native-relay.js';

export interface DialOptions {
  host: string;
  port: number;
  serverName: string;
  tls: TlsMaterial;
  /** stunnel_tcp_proxy; empty for none. */
  proxyUrl: string;
  noProxy: readonly string[];
  timeoutMs?: number;
  /** Make the connection ready to be handed to the native relay after the handshake (handover.ts),
   * when the relay is available. */
  handover?: boolean;
}

const KEEPALIVE_DELAY_MS = 30_000;

export async function dialTunnel(options: DialOptions): Promise<TLSSocket> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const useProxy = options.proxyUrl !== '' && !bypassesProxy(options.host, options.noProxy);
  const tcp = useProxy
    ? await connectThroughProxy(parseProxyUrl(options.proxyUrl), options.host, options.port, timeoutMs)
    : await connectDirect(options.host, options.port, timeoutMs);
  tcp.setNoDelay(true);
  tcp.setKeepAlive(true, KEEPALIVE_DELAY_MS);
  return startTls(tcp, options, timeoutMs);
}

function connectDirect(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TunnelError('server-unreachable', `cannot reach server ${host}:${port}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new TunnelError('server-unreachable', `cannot reach server ${host}:${port}: ${error.code ?? error.message}`));
    });
  });
}

function startTls(tcp: Socket, options: DialOptions, timeoutMs: number): Promise<TLSSocket> {
  const handover = options.handover === true && nativeRelay().available ? prepareClientHandover(tcp) : undefined;
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({
      socket: handover?.stream ?? tcp,
      servername: options.serverName,
      ca: options.tls.ca,
      cert: options.tls.cert,
      key: options.tls.key,
      ...cipherOptions('TLSv1.3'),
      rejectUnauthorized: true,
    });
    handover?.attach(secure);
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new TunnelError('server-unreachable', `TLS handshake with ${options.serverName} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(classifyTlsError(error, options.serverName));
    });
  });
}

/** Why our own verification of the server's certificate failed, for each OpenSSL verify code Node
 * reports with rejectUnauthorized (what the client refused, not what the server did). */
const SERVER_CERT_PROBLEMS: Readonly<Record<string, string>> = {
  INVALID_PURPOSE: 'it is not a server certificate (its extended key usage does not allow TLS server authentication: a client or CA certificate)',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet (are the clocks right?)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "it is not signed by this run's CA",
  UNABLE_TO_GET_ISSUER_CERT: "it is not signed by this run's CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "it is not signed by this run's CA",
  SELF_SIGNED_CERT_IN_CHAIN: "it is not signed by this run's CA (its chain ends in another, self-signed CA)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "it is self-signed, not signed by this run's CA",
  CERT_SIGNATURE_FAILURE: "its signature does not verify: it is not signed by this run's CA",
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "its signature does not verify: it is not signed by this run's CA",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "its issuer's key cannot be read",
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'its validity period cannot be read',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'its validity period cannot be read',
  CERT_CHAIN_TOO_LONG: "its chain is too long for this run's CA",
  PATH_LENGTH_EXCEEDED: "its chain is too long for this run's CA",
  INVALID_CA: 'it was issued by a certificate that is not a CA',
  CERT_REVOKED: 'it is revoked',
  CERT_UNTRUSTED: 'it is not trusted for TLS server authentication',
  CERT_REJECTED: 'it is marked as rejected for TLS server authentication',
  HOSTNAME_MISMATCH: 'it is not valid for the expected name',
};

/** TLS alerts the server sends when it refuses the certificate we presented. */
export const CLIENT_CERT_ALERT = /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_\w+|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)/;

/** Who refused whom, and why, for a failed handshake. The client verifies the server's certificate
 * itself (rejectUnauthorized): those failures are the client's refusal of the server, never the
 * other way round. What the server refuses reaches us as a TLS alert (or, for our certificate in
 * TLS 1.3, as the tunnel closing after the handshake: rsync-entry.ts). */
export function classifyTlsError(error: NodeJS.ErrnoException, serverName: string): TunnelError {
  const code = error.code ?? '';
  const detail = code || error.message;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = (error as { reason?: unknown }).reason;
    return new TunnelError(
      'server-identity',
      `the client refused the server's certificate (${code}): it is not valid for ${serverName}${typeof reason === 'string' ? ` (${reason})` : ''}; the other end is not this run's server (a man in the middle, or the wrong address)`,
    );
  }
  const problem = SERVER_CERT_PROBLEMS[code];
  if (problem !== undefined) {
    return new TunnelError(
      'server-identity',
      `the client refused the server's certificate (${code}): ${problem}; the other end is not this run's server for ${serverName} (a man in the middle, or the wrong address)`,
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new TunnelError('server-unreachable', `connection to ${serverName} closed during the TLS handshake (${code})`);
  }
  if (/ALERT_PROTOCOL_VERSION/.test(code)) {
    return new TunnelError('tls-refused', `the server refused the TLS handshake (${code}): it does not accept TLS 1.3, the only version the client speaks`);
  }
  if (CLIENT_CERT_ALERT.test(code)) {
    return new TunnelError(
      'tls-refused',
      `the server refused our client certificate during the TLS handshake (${code}): it is not from this run's CA, or expired`,
    );
  }
  if (/ALERT_/.test(code)) {
    return new TunnelError('tls-refused', `the server refused the TLS handshake (${code})`);
  }
  if (code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' || code === 'ERR_SSL_TLSV1_ALERT_INAPPROPRIATE_FALLBACK') {
    return new TunnelError('tls-refused', `the client refused the server's TLS version (${code}): the server does not speak TLS 1.3`);
  }
  if (
    /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|HTTPS_PROXY_REQUEST|RECORD_LAYER_FAILURE|UNEXPECTED_MESSAGE|UNEXPECTED_RECORD|RECORD_LENGTH_MISMATCH/.test(
      code,
    )
  ) {
    return new TunnelError(
      'tls-refused',
      `the other end does not speak TLS (${code}): ${serverName} at this address is not a dvm server (the wrong port, or a proxy answering itself)`,
    );
  }
  return new TunnelError('tls-refused', `TLS handshake with ${serverName} failed (${detail})`);
}
