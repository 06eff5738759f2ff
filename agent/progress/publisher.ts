// Publishes agent events three ways: a JSON line on stdout, every websocket on /progress, and the
// metrics. A client that connects late first gets what it missed: the attempts so far, the latest
// progress and, once there is one, the result.
import type { Server } from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';
import type { AgentEvent, AttemptEvent, ProgressEvent, ResultEvent } from '../../contract/events.js';

/** A socket this far behind gets only the newest progress until it drains. */
const SLOW_CLIENT_BYTES = 1 << 20;

export class EventPublisher {
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly attempts: AttemptEvent[] = [];
  private latest: ProgressEvent | null = null;
  private result: ResultEvent | null = null;

  constructor(private readonly sinks: ((event: AgentEvent) => void)[] = []) {
    this.sinks.unshift((event) => process.stdout.write(`${JSON.stringify(event)}\n`));
  }

  /** Serves ws://…/progress on an existing HTTP server. */
  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => {
      if ((req.url ?? '').split('?')[0] !== '/progress') {
        socket.destroy();
        return;
      }
      this.sockets.handleUpgrade(req, socket, head, (ws) => this.welcome(ws));
    });
  }

  private welcome(ws: WebSocket): void {
    const history: AgentEvent[] = [...this.attempts];
    if (this.latest) history.push(this.latest);
    if (this.result) history.push(this.result);
    for (const event of history) ws.send(JSON.stringify(event));
    if (this.result) ws.close(1000, 'done');
  }

  publish(event: AgentEvent): void {
    // Nothing follows the result (docs/contracts.md): totals from a source walk that ends after the
    // copy, say, are dropped.
    if (this.result) return;
    if (event.type === 'progress') this.latest = event;
    else if (event.type === 'attempt') this.attempts.push(event);
    else this.result = event;
    for (const sink of this.sinks) sink(event);
    const text = JSON.stringify(event);
    for (const ws of this.sockets.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (event.type === 'progress' && ws.bufferedAmount > SLOW_CLIENT_BYTES) continue;
      ws.send(text);
      if (event.type === 'result') ws.close(1000, 'done');
    }
  }

  /** Gives connected clients a moment to read the result (none connected: no wait). */
  async close(): Promise<void> {
    if (this.sockets.clients.size > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    for (const ws of this.sockets.clients) ws.terminate();
    this.sockets.close();
  }
}
