// The API server's pod proxy (/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/...): plain HTTP and
// websocket upgrades, forwarded to the pod's IP as the real server does.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { ApiError, type KubeObject } from './store.js';

export interface ProxyTarget {
  host: string;
  port: number;
  path: string;
}

export function proxyTarget(pod: KubeObject, port: number | undefined, rest: string, search: string): ProxyTarget {
  const podIp: string | undefined = pod.status?.podIP;
  if (!podIp || pod.status?.phase !== 'Running') {
    throw new ApiError(503, 'ServiceUnavailable', `pod "${pod.metadata.name}" is not running (no pod IP)`);
  }
  const targetPort = port ?? pod.spec?.containers?.[0]?.ports?.[0]?.containerPort;
  if (!targetPort) throw new ApiError(503, 'ServiceUnavailable', `pod "${pod.metadata.name}" has no port to proxy to`);
  return { host: podIp, port: targetPort, path: `${rest || '/'}${search}` };
}

const HOP_HEADERS = new Set(['authorization', 'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

export function proxyHttp(request: IncomingMessage, response: ServerResponse, target: ProxyTarget): void {
  const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HOP_HEADERS.has(name)));
  const upstream = httpRequest({ host: target.host, port: target.port, path: target.path, method: request.method, headers }, (reply) => {
    response.writeHead(reply.statusCode ?? 502, reply.headers);
    reply.pipe(response);
  });
  upstream.on('error', (error) => {
    if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
    response.end(`Error trying to reach service: ${error.message}`);
  });
  request.pipe(upstream);
}

export function proxyUpgrade(request: IncomingMessage, socket: Socket, head: Buffer, target: ProxyTarget): void {
  const upstream = connect(target.port, target.host, () => {
    const lines = [`${request.method} ${target.path} HTTP/1.1`, `Host: ${target.host}:${target.port}`];
    for (let index = 0; index < request.rawHeaders.length; index += 2) {
      const name = request.rawHeaders[index]!;
      if (name.toLowerCase() === 'authorization' || name.toLowerCase() === 'host') continue;
      lines.push(`${name}: ${request.rawHeaders[index + 1]}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on('error', () => {
    if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    close();
  });
  socket.on('error', close);
  socket.on('close', () => upstream.destroy());
  upstream.on('close', () => socket.destroy());
}
