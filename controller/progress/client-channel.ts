// One websocket client, drop-to-latest: while the bytes queued for it exceed a high-water mark,
// updates for it are dropped instead of queued; when its queue has drained, it gets one fresh
// snapshot (resync) that carries everything it missed. Memory per client stays bounded and the
// producer never waits for anyone.
import { WebSocket } from 'ws';

export interface ClientChannelOptions {
  /** Queued bytes above which updates are dropped. */
  highWaterBytes: number;
  /** Builds the resync message when the client has caught up (the current state, not a backlog). */
  resync: () => string;
}

export class ClientChannel {
  private behind = false;
  droppedUpdates = 0;

  constructor(
    readonly socket: WebSocket,
    private readonly options: ClientChannelOptions,
  ) {}

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** An update that may be dropped (the next snapshot supersedes it). */
  sendUpdate(data: string): void {
    if (!this.open) return;
    if (this.behind || this.socket.bufferedAmount > this.options.highWaterBytes) {
      this.behind = true;
      this.droppedUpdates++;
      return;
    }
    this.socket.send(data, this.onWritten);
  }

  /** A message that must arrive (the snapshot on connect): queued regardless. */
  sendAlways(data: string): void {
    if (!this.open) return;
    this.socket.send(data, this.onWritten);
  }

  /** The last message (the summary, a complete state), then a normal close once it is written. */
  sendFinal(data: string): void {
    this.behind = false;
    if (!this.open) return;
    this.socket.send(data);
    this.socket.close(1000, 'migration finished');
  }

  // Runs as each send leaves the process; the one after the last queued write finds the queue empty.
  private readonly onWritten = (error?: Error): void => {
    if (error || !this.behind || !this.open) return;
    if (this.socket.bufferedAmount > 0) return;
    this.behind = false;
    this.socket.send(this.options.resync(), this.onWritten);
  };
}
