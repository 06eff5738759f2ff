// A connected pair of Unix sockets. rsync runs as an inetd-style daemon only when its stdin is a
// socket (then it reports receiver errors to the client in-band, where a piped `--server` daemon
// would leave them on its stderr); Node has no socketpair(), so a throw-away listener makes one.
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

let sequence = 0;

export function socketPair(dir: string): Promise<[Socket, Socket]> {
  const path = join(dir, `pair-${process.pid}-${++sequence}.sock`);
  return new Promise((resolve, reject) => {
    const listener = createServer({ allowHalfOpen: true });
    listener.once('error', reject);
    listener.once('connection', (accepted) => {
      listener.close();
      rmSync(path, { force: true });
      resolve([accepted, dialed]);
    });
    let dialed: Socket;
    listener.listen(path, () => {
      dialed = connect({ path, allowHalfOpen: true });
      dialed.once('error', reject);
    });
  });
}
