// "host:port" (or "[v6]:port") as used by every listen setting.
import type { AddressInfo, Server } from 'node:net';

export function splitHostPort(value: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(value);
  if (!match) throw new Error(`"${value}" is not host:port`);
  return { host: match[1] ?? '', port: Number(match[2]) };
}

/** `setting` names the config key in the error, so a busy or bad address says what to fix. */
export function listen(server: Server, address: string, setting: string): Promise<number> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`${setting}: cannot listen on ${address}: ${error.code ?? error.message}`)));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      resolve((server.address() as AddressInfo).port);
    });
  });
}
