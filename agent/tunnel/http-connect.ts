// Opens a raw TCP stream to host:port through an HTTP CONNECT proxy (stunnel_tcp_proxy), with
// basic auth when the proxy URL carries credentials. Node's own http client speaks CONNECT.
import { request } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyTarget } from '../../contract/proxy-url.js';
import { TunnelError } from './tunnel-error.js';

export function connectThroughProxy(proxy: ProxyTarget, host: string, port: number, timeoutMs: number): Promise<Socket> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: authority };
  if (proxy.username !== undefined) {
    const credentials = `${proxy.username}:${proxy.password ?? ''}`;
    headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  const where = `proxy ${proxy.host}:${proxy.port}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: proxy.host, port: proxy.port, method: 'CONNECT', path: authority, headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new TunnelError('proxy-unreachable', `${where} did not answer CONNECT ${authority} within ${timeoutMs} ms`));
    }, timeoutMs);
    req.once('connect', (response, socket, head) => {
      clearTimeout(timer);
      const status = response.statusCode ?? 0;
      if (status === 200) {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
        return;
      }
      socket.destroy();
      // 407 is the standard answer; some proxies (tinyproxy among them) answer 401 instead.
      if (status === 407 || status === 401) {
        const hint = proxy.username === undefined ? 'the proxy wants credentials in stunnel_tcp_proxy' : 'check the user and password in stunnel_tcp_proxy';
        reject(new TunnelError('proxy-auth', `${where} refused proxy authentication (${status} ${response.statusMessage ?? ''}): ${hint}`));
      } else {
        reject(new TunnelError('proxy-refused', `${where} refused CONNECT ${authority}: ${status} ${response.statusMessage ?? ''}`.trim()));
      }
    });
    req.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new TunnelError('proxy-unreachable', `cannot reach ${where}: ${error.code ?? error.message}`));
    });
    req.end();
  });
}
