// "host:port" (or "[v6]:port") as used by every listen setting.
import type { AddressInfo, Server } from 'node:net';

export function splitHostPort(value: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(value);
  if (!match) throw new Error(`"${value}" is not host:port`);
  return { host: match[1] ?? '', port: Number(match[2]) };
}

export function listen(server: Server, address: string): Promise<number> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
