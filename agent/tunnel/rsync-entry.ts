// Where the client's rsync connects: a listener on 127.0.0.1 inside the client agent that opens one
// TLS tunnel per connection and relays bytes until either side closes. A connection is served only
// when the kernel says our own uid opened it (the socket with exactly this connection's addresses
// and ports, socket-owner.ts), so another local user cannot ride our certificate. A connection we
// refuse, or one whose local side hangs up first, is never taken for a failure of the tunnel.
// Who is admitted: entry-admission.ts; how the bytes and failures are handled: entry-relay.ts.
// It replaced RSYNC_CONNECT_PROG, which started a Node process per connection (bench/README.md).
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import { dialTunnel, type DialOptions } from './dial.js';
import { admitLocalConnection } from './entry-admission.js';
import { relayTunnel, type RelayContext } from './entry-relay.js';
import { relayUnavailable } from './native-relay.js';
import { PROC_NET_TABLES } from './socket-owner.js';
import { TunnelError, type TunnelStatus } from './tunnel-error.js';

export interface RsyncEntry {
  /** rsync://127.0.0.1:port/ reaches the tunnel. */
  port: number;
  /** Why the tunnel failed since the last call (first failure wins: later ones follow from it),
   * once the connections of the attempt have been judged (see connectionsJudged). */
  takeStatus(): Promise<TunnelStatus | null>;
  close(): Promise<void>;
}

export interface EntryOptions {
  /** Where the kernel lists sockets with their owners; tests point it elsewhere. */
  tables?: readonly string[];
}

const LOOPBACK = '127.0.0.1';
/** How long takeStatus waits for the last connections to be judged. */
const JUDGEMENT_GRACE_MS = 2_000;

export async function openRsyncEntry(dial: DialOptions, log: Logger, options: EntryOptions = {}): Promise<RsyncEntry> {
  const tables = options.tables ?? PROC_NET_TABLES;
  let status: TunnelStatus | null = null;
  const context: RelayContext = {
    log,
    open: new Set(),
    record: (failure) => {
      log.warn({ kind: failure.kind }, `tunnel: ${failure.message}`);
      status ??= { kind: failure.kind, message: failure.message };
    },
  };
  const unavailable = relayUnavailable();
  if (unavailable !== null) log.info(unavailable);

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (rsyncSide) => serveLocal(context, dial, tables, rsyncSide));
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve((server.address() as { port: number }).port));
  });
  return {
    port,
    takeStatus: async () => {
      await connectionsJudged(context.open, JUDGEMENT_GRACE_MS);
      const taken = status;
      status = null;
      return taken;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of context.open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One local connection: admitted or refused, then a tunnel dialled for it. */
function serveLocal(context: RelayContext, dial: DialOptions, tables: readonly string[], rsyncSide: Socket): void {
  context.open.add(rsyncSide);
  rsyncSide.once('close', () => context.open.delete(rsyncSide));
  rsyncSide.on('error', () => rsyncSide.destroy());
  const admission = admitLocalConnection(rsyncSide, tables, context.log);
  if (!admission.admitted) {
    if (admission.failure) context.record(admission.failure);
    rsyncSide.destroy();
    return;
  }
  rsyncSide.pause();
  dialTunnel({ ...dial, handover: true }).then(
    (tunnel) => {
      if (rsyncSide.destroyed) {
        tunnel.destroy();
        return;
      }
      context.open.add(tunnel);
      tunnel.once('close', () => context.open.delete(tunnel));
      relayTunnel(context, rsyncSide, tunnel);
    },
    (error: unknown) => {
      context.record(error instanceof TunnelError ? error : new TunnelError('server-unreachable', (error as Error).message));
      rsyncSide.destroy();
    },
  );
}

// The client reads the status when rsync has exited, and rsync exits as soon as its socket closes.
// The verdict on why it closed can come later: the native relay reports from its own thread, so a
// server's certificate alert may reach our event loop after rsync's exit did (CI saw a refused
// certificate taken for a dropped connection, and retried). Every relay records its verdict before
// it leaves `open`, so once `open` is empty the status is complete. A connection that outlives
// rsync for longer than the grace is not waited for: its verdict, if any, goes to the next attempt.
async function connectionsJudged(open: ReadonlySet<unknown>, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
