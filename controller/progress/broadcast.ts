// The websocket side of the progress server: who may upgrade, and one ClientChannel per watcher fed
// from the aggregate. Each watcher gets a snapshot on connect, then updates (dropped for a slow one,
// which resyncs: client-channel.ts), then the summary and a normal close when the migration ends.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { checkDataAccess } from './access.js';
import type { ProgressChange } from './aggregate.js';
import { ClientChannel } from './client-channel.js';
import { requestUrl, type RouteContext } from './http-routes.js';
import { snapshotMessage, summaryMessage, updateMessage } from './messages.js';
import type { ProgressSnapshot } from './pvc-state.js';

export class ProgressBroadcast {
  private readonly channels = new Set<ClientChannel>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  private readonly onChange = (change: ProgressChange) => this.sendUpdate(change);
  private readonly onFinished = (snapshot: ProgressSnapshot) => this.sendSummary(snapshot);

  constructor(
    private readonly context: RouteContext,
    private readonly highWaterBytes: number,
  ) {
    this.wss.on('connection', (ws: WebSocket) => this.welcome(ws));
    context.aggregate.on('change', this.onChange);
    context.aggregate.on('finished', this.onFinished);
  }

  /** The HTTP server's 'upgrade' handler: /progress only, behind the same access rules as the data paths. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    const url = requestUrl(req);
    if (url.pathname !== '/progress') {
      denyUpgrade(socket, 404, 'not found');
      return;
    }
    const decision = checkDataAccess(req, url, this.context.token);
    if (!decision.ok) {
      this.context.logger.warn({ path: url.pathname, reason: decision.reason }, 'progress websocket refused');
      denyUpgrade(socket, decision.status, decision.reason);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  };

  /** Stops listening to the aggregate and closes every watcher (1001), cutting off those that do not
   * finish the close handshake within graceMs. */
  async close(graceMs: number): Promise<void> {
    this.context.aggregate.off('change', this.onChange);
    this.context.aggregate.off('finished', this.onFinished);
    await closeSockets(
      [...this.channels].map((channel) => channel.socket),
      graceMs,
    );
    this.wss.close();
  }

  private welcome(ws: WebSocket): void {
    const { aggregate, logger, metrics } = this.context;
    const channel = new ClientChannel(ws, { highWaterBytes: this.highWaterBytes, resync: () => JSON.stringify(snapshotMessage(aggregate.snapshot(), true)) });
    this.channels.add(channel);
    metrics.clients.set(this.channels.size);
    ws.on('error', (error) => logger.debug({ err: error.message }, 'progress client error'));
    ws.on('close', () => {
      this.channels.delete(channel);
      metrics.clients.set(this.channels.size);
      if (channel.droppedUpdates > 0) logger.debug({ droppedUpdates: channel.droppedUpdates }, 'slow progress client caught up by snapshots');
    });
    const snapshot = aggregate.snapshot();
    channel.sendAlways(JSON.stringify(snapshotMessage(snapshot)));
    // A late joiner after the end gets the state and the summary, then the normal close.
    if (snapshot.finished) channel.sendFinal(JSON.stringify(summaryMessage(snapshot)));
  }

  private sendUpdate(change: ProgressChange): void {
    if (this.channels.size === 0) return;
    const data = JSON.stringify(updateMessage(change));
    for (const channel of this.channels) {
      const before = channel.droppedUpdates;
      channel.sendUpdate(data);
      if (channel.droppedUpdates !== before) this.context.metrics.droppedUpdates.inc();
    }
  }

  private sendSummary(snapshot: ProgressSnapshot): void {
    const data = JSON.stringify(summaryMessage(snapshot));
    for (const channel of this.channels) channel.sendFinal(data);
  }
}

function denyUpgrade(socket: Duplex, status: number, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${reason}\n`);
}

function closeSockets(sockets: WebSocket[], graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let open = sockets.length;
    if (open === 0) resolve();
    const timer = setTimeout(() => {
      for (const ws of sockets) ws.terminate();
      resolve();
    }, graceMs);
    timer.unref();
    for (const ws of sockets) {
      ws.once('close', () => {
        if (--open === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      if (ws.readyState === ws.OPEN) ws.close(1001, 'progress server stopping');
    }
  });
}
