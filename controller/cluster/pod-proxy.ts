// A websocket to a port of a pod through the API server's pod proxy
// (/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/{path}), authenticated as the kubeconfig says.
import WebSocket from 'ws';
import type { Cluster } from './connection.js';

export class PodProxyRefusedError extends Error {
  override readonly name = 'PodProxyRefusedError';
  constructor(readonly statusCode: number) {
    super(`the API server refused the pod proxy (HTTP ${statusCode})`);
  }
}

/** onMessage is attached before the handshake completes: a server that speaks first (a snapshot on
 * connect) may deliver its first frames in the same read as the upgrade response. */
export async function openPodProxyWebSocket(
  cluster: Cluster,
  namespace: string,
  pod: string,
  port: number,
  path: string,
  onMessage: (data: WebSocket.RawData) => void,
): Promise<WebSocket> {
  const options: WebSocket.ClientOptions = {};
  await cluster.kc.applyToHTTPSOptions(options);
  const base = cluster.server.replace(/^http/, 'ws').replace(/\/$/, '');
  const url = `${base}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy${path}`;
  return await new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(url, { ...options, handshakeTimeout: 10_000 });
    socket.on('message', onMessage);
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      response.resume();
      socket.terminate();
      reject(new PodProxyRefusedError(response.statusCode ?? 0));
    });
    socket.once('error', reject);
  });
}
