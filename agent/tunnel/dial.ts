// The client half of the tunnel: a TCP stream to the server (direct, or through the HTTP CONNECT
// proxy unless noProxy says otherwise), then TLS with the run's CA, the expected server name and
// our own client certificate.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { cipherOptions, type TlsMaterial } from './tls-options.js';
import { connectThroughProxy } from './http-connect.js';
import { bypassesProxy } from './no-proxy.js';
import { parseProxyUrl } from './proxy-url.js';
import { TunnelError } from './tunnel-error.js';

export interface DialOptions {
  host: string;
  port: number;
  serverName: string;
  tls: TlsMaterial;
  /** stunnel_tcp_proxy; empty for none. */
  proxyUrl: string;
  noProxy: readonly string[];
  timeoutMs?: number;
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
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({
      socket: tcp,
      servername: options.serverName,
      ca: options.tls.ca,
      cert: options.tls.cert,
      key: options.tls.key,
      ...cipherOptions('TLSv1.3'),
      rejectUnauthorized: true,
    });
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

function classifyTlsError(error: NodeJS.ErrnoException, serverName: string): TunnelError {
  const code = error.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new TunnelError('server-identity', `server certificate is not valid for ${serverName}: ${error.message}`);
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
    return new TunnelError('server-identity', `server certificate refused (${code}): it is not from this run's CA or not valid now`);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new TunnelError('server-unreachable', `connection to ${serverName} closed during the TLS handshake (${code})`);
  }
  return new TunnelError('tls-refused', `TLS handshake with ${serverName} failed (${code || error.message}): the server refused our certificate or protocol`);
}
