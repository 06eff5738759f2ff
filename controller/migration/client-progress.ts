// Live events of one PVC's client agents, whichever pod runs it and however its events arrive. The
// agent serves them on its /progress websocket (reached through the source API server's pod proxy)
// and also prints each one as a JSON line on stdout. So there are three ways to hear them, tried in
// this order, and this one object is the only place that knows about them:
//   1. the websocket, while the pod runs;
//   2. the pod's log, followed live, when the proxy path is refused (RBAC, a proxy-less API server),
//      never comes up, or closes before the agent said it was done;
//   3. the finished pod's whole log, read once, when neither delivered anything: a small volume copies
//      in well under a second, before the websocket can be dialled.
// Switching channel can deliver an event twice (the log repeats what the websocket said). Progress
// events are idempotent snapshots, attempts are de-duplicated here, and result events are never
// forwarded: the one result per PVC comes from the pod's termination message (client-run.ts).
import type WebSocket from 'ws';
import { parseAgentEvent, type AgentEvent } from '../../contract/events.js';
import type { Cluster } from '../cluster/connection.js';
import { followPodLog, type LogFollower } from '../cluster/pod-log.js';
import { openPodProxyWebSocket, PodProxyRefusedError } from '../cluster/pod-proxy.js';
import { CLIENT_CONTAINER, PROGRESS_PORT } from '../manifests/names.js';
import type { PodEnd } from './pod-lifecycle.js';

export type ProgressSource = 'pod-proxy-websocket' | 'pod-log';

const REPLAY_TIMEOUT_MS = 10_000;
/** Refusals that will not change by retrying: go to the log at once. */
const REFUSED = new Set([401, 403, 404, 405]);
const CONNECT_TRIES = 20;
const RETRY_MS = 300;

export class ClientProgress {
  private readonly seenAttempts = new Set<number>();
  private live: LivePodStream | undefined;
  private lastSource: ProgressSource | undefined;

  /** emit gets this PVC's events, each attempt once, never a result. */
  constructor(
    private readonly cluster: Cluster,
    private readonly namespace: string,
    private readonly pvc: string,
    private readonly emit: (event: AgentEvent) => void,
  ) {}

  /** The channel used last: the one switched to, or the log when a finished pod's log was replayed. */
  get source(): ProgressSource | undefined {
    return this.lastSource;
  }

  /** Agent attempts seen across all pods of this PVC. */
  get attempts(): number {
    return this.seenAttempts.size;
  }

  /** Starts listening to a pod that is running; onSource is told each channel it switches to. */
  follow(pod: string, onSource: (source: ProgressSource) => void): void {
    this.live?.stop();
    this.live = new LivePodStream(
      this.cluster,
      this.namespace,
      pod,
      (event) => this.forward(event),
      (source) => {
        this.lastSource = source;
        onSource(source);
      },
    );
  }

  /** Stops listening to the pod, and replays its log when it terminated before anything was heard
   * (end is undefined when following the pod failed). */
  async finish(pod: string, end: PodEnd | undefined): Promise<void> {
    const live = this.live;
    this.live = undefined;
    live?.stop();
    if (end?.kind !== 'terminated' || (live?.delivered ?? 0) > 0) return;
    if (await replayPodLog(this.cluster, this.namespace, pod, (event) => this.forward(event))) this.lastSource = 'pod-log';
  }

  private forward(event: AgentEvent): void {
    if (event.pvc !== this.pvc || event.type === 'result') return;
    if (event.type === 'attempt') {
      if (this.seenAttempts.has(event.attempt)) return;
      this.seenAttempts.add(event.attempt);
    }
    this.emit(event);
  }
}

/** Reads a finished pod's whole log once. false when there is no log. */
async function replayPodLog(cluster: Cluster, namespace: string, pod: string, onEvent: (event: AgentEvent) => void): Promise<boolean> {
  try {
    const follower = await followPodLog(cluster, namespace, pod, CLIENT_CONTAINER, (line) => {
      const event = parseAgentEvent(line);
      if (event) onEvent(event);
    });
    // A terminated container's log ends by itself; the timer only guards against one that does not.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      follower.ended,
      new Promise((resolve) => {
        timer = setTimeout(resolve, REPLAY_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    follower.stop();
    return true;
  } catch {
    return false;
  }
}

/** One running pod's events: the websocket, falling back to following the log. */
class LivePodStream {
  delivered = 0;
  private stopped = false;
  private current: ProgressSource | undefined;
  private socket: WebSocket | undefined;
  private follower: LogFollower | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly namespace: string,
    private readonly pod: string,
    private readonly onEvent: (event: AgentEvent) => void,
    private readonly onSource: (source: ProgressSource) => void,
  ) {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.terminate();
    this.follower?.stop();
  }

  private deliver(event: AgentEvent | undefined): void {
    if (!event || this.stopped) return;
    this.delivered += 1;
    this.onEvent(event);
  }

  private use(source: ProgressSource): void {
    this.current = source;
    this.onSource(source);
  }

  private async connect(): Promise<void> {
    for (let tries = 0; tries < CONNECT_TRIES && !this.stopped; tries += 1) {
      try {
        const socket = await openPodProxyWebSocket(this.cluster, this.namespace, this.pod, PROGRESS_PORT, '/progress', (data) =>
          this.deliver(parseAgentEvent(data.toString())),
        );
        this.socket = socket;
        if (this.stopped) {
          socket.terminate();
          return;
        }
        this.use('pod-proxy-websocket');
        socket.on('close', (code) => {
          // 1000: the agent is done (it closes after its result). Anything else: read the log.
          if (code !== 1000 && !this.stopped) void this.fallBackToLog();
        });
        socket.on('error', () => undefined);
        return;
      } catch (error) {
        if (error instanceof PodProxyRefusedError && REFUSED.has(error.statusCode)) break;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
    await this.fallBackToLog();
  }

  private async fallBackToLog(): Promise<void> {
    if (this.stopped || this.current === 'pod-log') return;
    try {
      this.follower = await followPodLog(this.cluster, this.namespace, this.pod, CLIENT_CONTAINER, (line) => this.deliver(parseAgentEvent(line)));
      this.use('pod-log');
      if (this.stopped) this.follower.stop();
    } catch {
      // No log either (the pod is gone): completion still comes from the pod status.
    }
  }
}
