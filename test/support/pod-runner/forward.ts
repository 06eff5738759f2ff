// A TCP listener that forwards every connection to a target chosen when the connection arrives
// (kube-proxy for ClusterIP/NodePort/LoadBalancer Services, the router for Routes).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Forwarder {
  close(): Promise<void>;
}

/** pick() sees the bytes so far: "more" to wait for more (SNI), undefined to refuse. */
export async function startForwarder(
  host: string,
  port: number,
  pick: (firstBytes: Buffer) => { host: string; port: number } | undefined | 'more',
): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    const tryPick = () => {
      const target = pick(buffered);
      if (target === 'more') return false;
      socket.off('data', onData);
      if (!target) {
        socket.destroy();
        return true;
      }
      const upstream = connect(target.port, target.host);
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        socket.destroy();
      });
      upstream.on('error', () => upstream.destroy());
      socket.on('close', () => upstream.destroy());
      if (buffered.length > 0) upstream.write(buffered);
      socket.pipe(upstream);
      upstream.pipe(socket);
      return true;
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      tryPick();
    };
    if (!tryPick()) socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
