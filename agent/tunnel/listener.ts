// The server half of the tunnel: TLS with a required client certificate from the run's CA. A
// connection is handed on only after the handshake and the client's first byte, so port scanners,
// refused clients and silent sockets never cost an rsync process.
import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { cipherOptions, type TlsMaterial } from './tls-options.js';
import { HandoverStream } from './handover-stream.js';
import { attachHandover, handoverOf, underlyingHandoverStream } from './handover.js';
import { nativeRelay } from './native-relay.js';
import { TrafficSecrets } from './traffic-secrets.js';

export interface ListenerOptions {
  tls: TlsMaterial;
  minVersion: SecureVersion;
  handshakeTimeoutMs: number;
  firstByteTimeoutMs: number;
  maxConnections: number;
  /** What a client over maxConnections is told before its connection closes (the file server sends
   * rsync's own "max connections" error, rsync/daemon-request.ts); without it, it is closed at once. */
  busyReply?: string;
  /** Called with an authenticated socket that has data waiting. */
  onReady: (socket: TLSSocket) => void;
  onRefused: (reason: string, detail: string) => void;
  /** Make each connection ready to be handed to the native relay (handover.ts), when it is
   * available: node:tls then runs on a HandoverStream over the TCP socket. */
  handover?: boolean;
}

export function createTunnelListener(options: ListenerOptions): Server {
  let active = 0;
  const server = createServer({
    ca: options.tls.ca,
    cert: options.tls.cert,
    key: options.tls.key,
    requestCert: true,
    // Verified below instead of by OpenSSL, so each refusal is counted with its real reason
    // (expired, foreign CA, none); the socket is destroyed before a byte of it is read.
    rejectUnauthorized: false,
    handshakeTimeout: options.handshakeTimeoutMs,
    ...cipherOptions(options.minVersion),
    allowHalfOpen: true,
  });

  if (options.handover === true && nativeRelay().available) prepareHandovers(server);

  server.on('secureConnection', (socket) => {
    if (!socket.authorized) {
      const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
      const code = String(socket.authorizationError ?? 'unknown');
      options.onRefused(presented ? certificateRefusal(code) : 'no-client-certificate', code);
      socket.destroy();
      return;
    }
    if (active >= options.maxConnections) {
      options.onRefused('too-many-connections', `more than ${options.maxConnections} at once`);
      turnAway(socket, options.busyReply);
      return;
    }
    active += 1;
    socket.once('close', () => {
      active -= 1;
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => {
      options.onRefused('idle', `no data within ${options.firstByteTimeoutMs} ms after the handshake`);
      socket.destroy();
    }, options.firstByteTimeoutMs);
    socket.once('readable', () => {
      clearTimeout(timer);
      if (socket.readableLength === 0) {
        socket.destroy();
        return;
      }
      options.onReady(socket);
    });
  });

  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
    options.onRefused(refusalReason(error), error.code ?? error.message);
    socket.destroy();
  });
  return server;
}

/** Says busyReply and closes. What the client sends meanwhile is read and dropped: closing with
 * unread input would reset the connection, and the client might lose the reply. */
function turnAway(socket: TLSSocket, busyReply: string | undefined): void {
  handoverOf(socket)?.stream.passThrough();
  if (busyReply === undefined) {
    socket.destroy();
    return;
  }
  socket.on('error', () => socket.destroy());
  const giveUp = setTimeout(() => socket.destroy(), TURN_AWAY_MS);
  socket.once('close', () => clearTimeout(giveUp));
  socket.resume();
  socket.end(busyReply);
}

/** node:tls on a HandoverStream for every accepted TCP connection (tls.Server's own 'connection'
 * listener, given the stream instead of the socket), and each connection's traffic secrets from
 * the keylog. */
function prepareHandovers(server: Server): void {
  const [tlsConnection] = server.listeners('connection') as Array<(this: Server, socket: unknown) => void>;
  if (tlsConnection === undefined) return;
  server.removeListener('connection', tlsConnection);
  server.on('connection', (raw: Socket) => {
    raw.setNoDelay(true);
    raw.setKeepAlive(true, 30_000);
    tlsConnection.call(server, new HandoverStream(raw));
  });
  server.on('keylog', (line: Buffer, socket: TLSSocket) => {
    let handover = handoverOf(socket);
    if (handover === undefined) {
      const stream = underlyingHandoverStream(socket);
      if (stream === undefined) {
        line.fill(0);
        return;
      }
      handover = { stream, secrets: new TrafficSecrets(), role: 'server' };
      attachHandover(socket, handover);
    }
    handover.secrets.take(line);
  });
}

/** How long a turned-away client may take to read the reply and hang up. */
const TURN_AWAY_MS = 5_000;

function certificateRefusal(code: string): string {
  if (/EXPIRED|NOT_YET_VALID/i.test(code)) return 'certificate-expired';
  return 'certificate-refused';
}

function refusalReason(error: NodeJS.ErrnoException): string {
  const text = `${error.code ?? ''} ${error.message}`;
  // Client certificates are judged in secureConnection, so what fails here is the handshake itself.
  if (/TIMEOUT/i.test(text)) return 'handshake-timeout';
  if (/VERSION|PROTOCOL/i.test(text)) return 'protocol-refused';
  return 'handshake-failed';
}
