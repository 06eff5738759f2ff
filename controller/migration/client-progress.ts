// Live events of one client agent: its /progress websocket through the source API server's pod proxy,
// or, when the proxy path is refused (RBAC, a proxy-less API server) or never comes up, the pod's log
// (the agent prints every event as a JSON line on stdout).
import type WebSocket from 'ws';
import { parseAgentEvent, type AgentEvent } from '../../contract/events.js';
import type { Cluster } from '../cluster/connection.js';
import { followPodLog, type LogFollower } from '../cluster/pod-log.js';
import { openPodProxyWebSocket, PodProxyRefusedError } from '../cluster/pod-proxy.js';
import { CLIENT_CONTAINER, PROGRESS_PORT } from '../manifests/names.js';

export type ProgressSource = 'pod-proxy-websocket' | 'pod-log';

export interface ProgressStream {
  /** The source in use now (it may change from websocket to log). */
  source(): ProgressSource | undefined;
  /** Agent events delivered so far. */
  delivered(): number;
  stop(): void;
}

const REPLAY_TIMEOUT_MS = 10_000;

/** Reads a finished client pod's whole log once: the events of an agent that ended before a live
 * source came up (a small volume copies in well under a second). false when there is no log. */
export async function replayClientLog(cluster: Cluster, namespace: string, pod: string, onEvent: (event: AgentEvent) => void): Promise<boolean> {
  try {
    const follower = await followPodLog(cluster, namespace, pod, CLIENT_CONTAINER, (line) => {
      const event = parseAgentEvent(line);
      if (event) onEvent(event);
    });
    // A terminated container's log ends by itself; the timer only guards against one that does not.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([follower.ended, new Promise((resolve) => { timer = setTimeout(resolve, REPLAY_TIMEOUT_MS); })]);
    clearTimeout(timer);
    follower.stop();
    return true;
  } catch {
    return false;
  }
}

/** Refusals that will not change by retrying: go to the log at once. */
const REFUSED = new Set([401, 403, 404, 405]);
const CONNECT_TRIES = 20;
const RETRY_MS = 300;

export function streamClientProgress(cluster: Cluster, namespace: string, pod: string, onEvent: (event: AgentEvent) => void,
  onSource: (source: ProgressSource) => void): ProgressStream {
  let stopped = false;
  let delivered = 0;
  let current: ProgressSource | undefined;
  let socket: WebSocket | undefined;
  let follower: LogFollower | undefined;
  const deliver = (event: AgentEvent | undefined) => {
    if (!event || stopped) return;
    delivered += 1;
    onEvent(event);
  };
  const use = (source: ProgressSource) => {
    current = source;
    onSource(source);
  };

  const fallBackToLog = async () => {
    if (stopped || current === 'pod-log') return;
    try {
      follower = await followPodLog(cluster, namespace, pod, CLIENT_CONTAINER, (line) => deliver(parseAgentEvent(line)));
      use('pod-log');
      if (stopped) follower.stop();
    } catch {
      // No log either (the pod is gone): completion still comes from the pod status.
    }
  };

  const connect = async () => {
    for (let tries = 0; tries < CONNECT_TRIES && !stopped; tries += 1) {
      try {
        socket = await openPodProxyWebSocket(cluster, namespace, pod, PROGRESS_PORT, '/progress', (data) => deliver(parseAgentEvent(data.toString())));
        if (stopped) {
          socket.terminate();
          return;
        }
        use('pod-proxy-websocket');
        socket.on('close', (code) => {
          // 1000: the agent is done (it closes after its result). Anything else: read the log.
          if (code !== 1000 && !stopped) void fallBackToLog();
        });
        socket.on('error', () => undefined);
        return;
      } catch (error) {
        if (error instanceof PodProxyRefusedError && REFUSED.has(error.statusCode)) break;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
    await fallBackToLog();
  };
  void connect();

  return {
    source: () => current,
    delivered: () => delivered,
    stop: () => {
      stopped = true;
      socket?.terminate();
      follower?.stop();
    },
  };
}
