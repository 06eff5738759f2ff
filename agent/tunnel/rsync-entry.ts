// Where the client's rsync connects: a listener on 127.0.0.1 inside the client agent that opens one
// TLS tunnel per connection and relays bytes until either side closes. A connection is served only
// when the kernel says our own uid opened it (the socket with exactly this connection's addresses
// and ports, socket-owner.ts), so another local user cannot ride our certificate. A connection we
// refuse, or one whose local side hangs up first, is never taken for a failure of the tunnel.
// It replaced RSYNC_CONNECT_PROG, which started a Node process per connection (bench/README.md).
import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { CLIENT_CERT_ALERT, dialTunnel, type DialOptions } from './dial.js';
import { connectionOwner, PROC_NET_TABLES } from './socket-owner.js';
import { TunnelError, type TunnelStatus } from './tunnel-error.js';
import { handOver, HandoverRefused, handoverOf } from './handover.js';
import { relayUnavailable, type RelayResult } from './native-relay.js';

export interface RsyncEntry {
  /** rsync://127.0.0.1:port/ reaches the tunnel. */
  port: number;
  /** Why the tunnel failed since the last call (first failure wins: later ones follow from it). */
  takeStatus(): TunnelStatus | null;
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

/** In TLS 1.3 the server judges our certificate after our side already saw the handshake end, so
 * its refusal arrives as an alert on the first read. (The client's own refusals of the server's
 * certificate happen in the handshake: dial.ts.) */
function refusalAfterHandshake(error: NodeJS.ErrnoException): TunnelError | null {
  const text = `${error.code ?? ''} ${error.message}`;
  if (CLIENT_CERT_ALERT.test(error.code ?? '') || /alert (certificate|bad certificate|unknown ca|unsupported certificate|access denied)/i.test(text)) {
    return new TunnelError('tls-refused', `the server refused our client certificate (${error.code ?? error.message}): it is not from this run's CA, or expired`);
  }
  return null;
}

/** TLS alerts by which a server refuses the client certificate (RFC 8446 §6.2). */
const CERTIFICATE_ALERTS: ReadonlyMap<number, string> = new Map([
  [42, 'bad_certificate'], [43, 'unsupported_certificate'], [44, 'certificate_revoked'], [45, 'certificate_expired'],
  [46, 'certificate_unknown'], [48, 'unknown_ca'], [49, 'access_denied'], [116, 'certificate_required'],
]);

export interface EntryOptions {
  /** Where the kernel lists sockets with their owners; tests point it elsewhere. */
  tables?: readonly string[];
}

export async function openRsyncEntry(dial: DialOptions, log: Logger, options: EntryOptions = {}): Promise<RsyncEntry> {
  const tables = options.tables ?? PROC_NET_TABLES;
  let status: TunnelStatus | null = null;
  const record = (error: unknown): void => {
    const failure = error instanceof TunnelError ? error : new TunnelError('server-unreachable', (error as Error).message);
    log.warn({ kind: failure.kind }, `tunnel: ${failure.message}`);
    status ??= { kind: failure.kind, message: failure.message };
  };
  /** Open sockets and native relays, ended by close(). */
  const sockets = new Set<{ destroy(): void }>();
  const unavailable = relayUnavailable();
  if (unavailable !== null) log.info(unavailable);

  const relay = (rsyncSide: Socket, tunnel: TLSSocket): void => {
    if (handoverOf(tunnel)) relayNatively(rsyncSide, tunnel);
    else relayInJavaScript(rsyncSide, tunnel);
  };

  /** The same judgement as relayInJavaScript's, from the native relay's result. */
  const judge = (result: RelayResult, localClosedFirst: boolean): void => {
    if (result.code === null || result.code === 'ERR_RELAY_ABORTED') return;
    const localFirst = localClosedFirst || result.plainEnded || result.code === 'ERR_RELAY_PLAIN_IO';
    const certificateAlert = result.alert === null ? undefined : CERTIFICATE_ALERTS.get(result.alert);
    if (result.code === 'ERR_RELAY_PEER_ALERT' && certificateAlert !== undefined && !localFirst) {
      record(new TunnelError('tls-refused', `the server refused our client certificate (TLS alert ${result.alert}, ${certificateAlert}): it is not from this run's CA, or expired`));
    } else if (result.bytesToPlain === 0 && !localFirst) {
      record(new TunnelError('tls-refused', 'the server closed the tunnel right after the TLS handshake, before rsync answered: the server refused our client certificate (not from this run\'s CA, or expired)'));
    } else if (!localFirst) {
      // Mid-transfer: rsync's own exit code says what it means for the copy.
      log.warn({ code: result.code, alert: result.alert }, `tunnel: ${result.message}`);
    }
  };

  const relayNatively = (rsyncSide: Socket, tunnel: TLSSocket): void => {
    // (rsync may have ended while the tunnel was being dialled: a stream emits 'end' even when paused.)
    const localClosedFirst = rsyncSide.readableEnded || rsyncSide.destroyed;
    handOver(tunnel, rsyncSide).then((running) => {
      const entry = { destroy: () => running.abort() };
      sockets.add(entry);
      void running.done.then((result) => {
        sockets.delete(entry);
        tunnel.destroy();
        judge(result, localClosedFirst);
      });
    }, (error: Error) => {
      if (error instanceof HandoverRefused && !tunnel.destroyed) {
        log.warn({ reason: error.message }, 'tunnel: this connection stays with the JavaScript relay');
        handoverOf(tunnel)?.stream.passThrough();
        relayInJavaScript(rsyncSide, tunnel);
        return;
      }
      log.warn({ error: error.message }, 'tunnel: the hand-over to the native relay failed');
      tunnel.destroy();
      rsyncSide.destroy();
    });
  };

  const relayInJavaScript = (rsyncSide: Socket, tunnel: TLSSocket): void => {
    // Only whether anything came back matters: no listener of ours on every record.
    let greeted = false;
    let failed = false;
    // When our side (rsync) hangs up first, whatever the tunnel does next follows from that: rsync's
    // own exit code tells why, the server did not refuse anything.
    // (It may have ended while the tunnel was being dialled: a stream emits 'end' even when paused.)
    let localClosedFirst = rsyncSide.readableEnded || rsyncSide.destroyed;
    const localGone = (): void => { if (!failed) localClosedFirst = true; };
    rsyncSide.once('end', localGone);
    rsyncSide.once('close', localGone);
    tunnel.once('data', () => { greeted = true; });
    // rsync's daemon greets first thing; a server that hangs up before that refused us after the
    // handshake, which in TLS 1.3 is how a refused client certificate looks from this side.
    const refusedBeforeGreeting = (): void => {
      if (greeted || failed || localClosedFirst) return;
      failed = true;
      record(new TunnelError('tls-refused', 'the server closed the tunnel right after the TLS handshake, before rsync answered: the server refused our client certificate (not from this run\'s CA, or expired)'));
    };
    tunnel.once('end', refusedBeforeGreeting);
    tunnel.on('error', (error: NodeJS.ErrnoException) => {
      const refused = refusalAfterHandshake(error);
      if (refused && !failed && !localClosedFirst) record(refused);
      else refusedBeforeGreeting();
      failed = true;
      rsyncSide.destroy();
    });
    rsyncSide.on('error', () => { localGone(); tunnel.destroy(); });
    // Once the tunnel is gone nothing rsync writes can arrive: hand rsync what came before, then
    // close its socket, or a sender that never reads would keep filling it.
    tunnel.once('close', () => {
      if (rsyncSide.writableFinished) rsyncSide.destroy();
      else rsyncSide.once('finish', () => rsyncSide.destroy()).end();
    });
    rsyncSide.pipe(tunnel);
    tunnel.pipe(rsyncSide);
  };

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (rsyncSide) => {
    sockets.add(rsyncSide);
    rsyncSide.once('close', () => sockets.delete(rsyncSide));
    rsyncSide.on('error', () => rsyncSide.destroy());
    const { localAddress, localPort, remoteAddress, remotePort } = rsyncSide;
    if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) {
      // Gone before we looked: nobody to serve, and nothing that failed.
      rsyncSide.destroy();
      return;
    }
    const from = `${remoteAddress}:${remotePort}`;
    const owner = connectionOwner({ local: { address: localAddress, port: localPort }, remote: { address: remoteAddress, port: remotePort } }, tables);
    if (owner.found === 'unknowable') {
      // Fail closed, and say why: without /proc/net/tcp (not Linux) nobody can be told apart. Our
      // own rsync cannot be served either, so this is the migration's failure.
      record(new TunnelError('local-entry', `cannot tell who opened the local connection to the tunnel entry: no table of sockets (${tables.join(', ')}) can be read (the client agent needs Linux)`));
      rsyncSide.destroy();
      return;
    }
    if (owner.found !== 'one') {
      // Fail closed without blaming the tunnel: a connection whose socket the kernel no longer lists
      // (it closed at once) or lists twice is no one we can vouch for.
      log.warn({ from, found: owner.found }, 'refused a local connection: the kernel lists no single socket with its exact addresses (closed already, or not ours)');
      rsyncSide.destroy();
      return;
    }
    if (owner.uid !== process.getuid?.()) {
      log.warn({ owner: owner.uid, from }, 'refused a local connection that is not ours (uid differs)');
      rsyncSide.destroy();
      return;
    }
    rsyncSide.pause();
    dialTunnel({ ...dial, handover: true }).then((tunnel) => {
      if (rsyncSide.destroyed) {
        tunnel.destroy();
        return;
      }
      sockets.add(tunnel);
      tunnel.once('close', () => sockets.delete(tunnel));
      relay(rsyncSide, tunnel);
    }, (error: unknown) => {
      record(error);
      rsyncSide.destroy();
    });
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve((server.address() as { port: number }).port));
  });
  return {
    port,
    takeStatus: () => {
      const taken = status;
      status = null;
      return taken;
    },
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
