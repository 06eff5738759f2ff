// Loopback port helpers for tests: a free port, and waiting until something listens (in the root
// network namespace by connecting, inside a test namespace by asking `ss` there).
import { execFile } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function listensInNamespace(netns: string, port: number): Promise<boolean> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', netns, 'ss', '-Hltn', `sport = :${port}`]);
  return stdout.trim().length > 0;
}

export interface WaitForPortOptions {
  netns?: string;
  timeoutMs?: number;
  /** Stop early with this error when the process that should listen has died. */
  alive?: () => boolean;
  what?: string;
}

export async function waitForPort(host: string, port: number, options: WaitForPortOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const what = options.what ?? `${host}:${port}`;
  for (;;) {
    if (options.alive && !options.alive()) throw new Error(`${what} exited before listening`);
    const up = options.netns ? await listensInNamespace(options.netns, port) : await canConnect(host, port);
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${what} not listening after ${options.timeoutMs ?? 10_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
