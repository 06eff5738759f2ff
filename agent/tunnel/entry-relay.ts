// The bytes between the client's rsync and one tunnel: natively (the relay thread) when node:tls
// handed the connection over, else piped in JavaScript. Both judge the same way how a tunnel that
// ends early failed: a server that hangs up right after the handshake, before rsync's greeting, or
// with a certificate alert, refused our client certificate (in TLS 1.3 that refusal arrives after
// our side saw the handshake end); when our own rsync hung up first, nothing the tunnel does next
// is the tunnel's failure.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { CLIENT_CERT_ALERT } from './dial.js';
import { handOver, HandoverRefused, handoverOf } from './handover.js';
import type { RelayResult } from './native-relay.js';
import { TunnelError } from './tunnel-error.js';

export interface RelayContext {
  log: Logger;
  /** Records why the tunnel failed (first failure wins). */
  record: (failure: TunnelError) => void;
  /** Open sockets and native relays, ended when the entry closes. */
  open: Set<{ destroy(): void }>;
}

const REFUSED_BEFORE_GREETING =
  "the server closed the tunnel right after the TLS handshake, before rsync answered: the server refused our client certificate (not from this run's CA, or expired)";

/** TLS alerts by which a server refuses the client certificate (RFC 8446 §6.2). */
const CERTIFICATE_ALERTS: ReadonlyMap<number, string> = new Map([
  [42, 'bad_certificate'],
  [43, 'unsupported_certificate'],
  [44, 'certificate_revoked'],
  [45, 'certificate_expired'],
  [46, 'certificate_unknown'],
  [48, 'unknown_ca'],
  [49, 'access_denied'],
  [116, 'certificate_required'],
]);

export function relayTunnel(context: RelayContext, rsyncSide: Socket, tunnel: TLSSocket): void {
  if (handoverOf(tunnel)) relayNatively(context, rsyncSide, tunnel);
  else relayInJavaScript(context, rsyncSide, tunnel);
}

function relayNatively(context: RelayContext, rsyncSide: Socket, tunnel: TLSSocket): void {
  // (rsync may have ended while the tunnel was being dialled: a stream emits 'end' even when paused.)
  const localClosedFirst = rsyncSide.readableEnded || rsyncSide.destroyed;
  handOver(tunnel, rsyncSide).then(
    (running) => {
      const entry = { destroy: () => running.abort() };
      context.open.add(entry);
      void running.done.then((result) => {
        context.open.delete(entry);
        tunnel.destroy();
        judgeNativeResult(context, result, localClosedFirst);
      });
    },
    (error: Error) => {
      if (error instanceof HandoverRefused && !tunnel.destroyed) {
        context.log.warn({ reason: error.message }, 'tunnel: this connection stays with the JavaScript relay');
        handoverOf(tunnel)?.stream.passThrough();
        relayInJavaScript(context, rsyncSide, tunnel);
        return;
      }
      context.log.warn({ error: error.message }, 'tunnel: the hand-over to the native relay failed');
      tunnel.destroy();
      rsyncSide.destroy();
    },
  );
}

/** The same judgement as relayInJavaScript's, from the native relay's result. */
function judgeNativeResult(context: RelayContext, result: RelayResult, localClosedFirst: boolean): void {
  if (result.code === null || result.code === 'ERR_RELAY_ABORTED') return;
  const localFirst = localClosedFirst || result.plainEnded || result.code === 'ERR_RELAY_PLAIN_IO';
  if (localFirst) return;
  const certificateAlert = result.alert === null ? undefined : CERTIFICATE_ALERTS.get(result.alert);
  if (result.code === 'ERR_RELAY_PEER_ALERT' && certificateAlert !== undefined) {
    context.record(
      new TunnelError(
        'tls-refused',
        `the server refused our client certificate (TLS alert ${result.alert}, ${certificateAlert}): it is not from this run's CA, or expired`,
      ),
    );
  } else if (result.bytesToPlain === 0) {
    context.record(new TunnelError('tls-refused', REFUSED_BEFORE_GREETING));
  } else {
    // Mid-transfer: rsync's own exit code says what it means for the copy.
    context.log.warn({ code: result.code, alert: result.alert }, `tunnel: ${result.message}`);
  }
}

function relayInJavaScript(context: RelayContext, rsyncSide: Socket, tunnel: TLSSocket): void {
  // Only whether anything came back matters: no listener of ours on every record.
  let greeted = false;
  let failed = false;
  // (rsync may have ended while the tunnel was being dialled: a stream emits 'end' even when paused.)
  let localClosedFirst = rsyncSide.readableEnded || rsyncSide.destroyed;
  const localGone = (): void => {
    if (!failed) localClosedFirst = true;
  };
  rsyncSide.once('end', localGone);
  rsyncSide.once('close', localGone);
  tunnel.once('data', () => {
    greeted = true;
  });
  // rsync's daemon greets first thing; a server that hangs up before that refused us.
  const refusedBeforeGreeting = (): void => {
    if (greeted || failed || localClosedFirst) return;
    failed = true;
    context.record(new TunnelError('tls-refused', REFUSED_BEFORE_GREETING));
  };
  tunnel.once('end', refusedBeforeGreeting);
  tunnel.on('error', (error: NodeJS.ErrnoException) => {
    const refused = refusalAfterHandshake(error);
    if (refused && !failed && !localClosedFirst) context.record(refused);
    else refusedBeforeGreeting();
    failed = true;
    rsyncSide.destroy();
  });
  rsyncSide.on('error', () => {
    localGone();
    tunnel.destroy();
  });
  // Once the tunnel is gone nothing rsync writes can arrive: hand rsync what came before, then
  // close its socket, or a sender that never reads would keep filling it.
  tunnel.once('close', () => {
    if (rsyncSide.writableFinished) rsyncSide.destroy();
    else rsyncSide.once('finish', () => rsyncSide.destroy()).end();
  });
  rsyncSide.pipe(tunnel);
  tunnel.pipe(rsyncSide);
}

/** A server's refusal of our certificate, seen as an alert on the first read. (The client's own
 * refusals of the server's certificate happen in the handshake: dial.ts.) */
function refusalAfterHandshake(error: NodeJS.ErrnoException): TunnelError | null {
  const text = `${error.code ?? ''} ${error.message}`;
  if (CLIENT_CERT_ALERT.test(error.code ?? '') || /alert (certificate|bad certificate|unknown ca|unsupported certificate|access denied)/i.test(text)) {
    return new TunnelError(
      'tls-refused',
      `the server refused our client certificate (${error.code ?? error.message}): it is not from this run's CA, or expired`,
    );
  }
  return null;
}
