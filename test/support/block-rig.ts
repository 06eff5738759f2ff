// Runs the real block agents (dvm-agent block-server|block-client) as child processes: a per-test PKI with a
// certificate for the target's PVC and one for another PVC, a TCP relay that counts the bytes on the
// wire and can cut connections, device images, and loop devices when running as root.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockClientConfigSchema, blockServerConfigSchema, type BlockClientConfig, type BlockServerConfig } from '../../contract/block-config.js';
import { pvcIdentity } from '../../contract/identity.js';
import { createRunPki, type PemPair } from '../../controller/pki/pki.js';
import { killAll, startClientAgent, startServerAgent, type ChildList, type ClientAgent, type ServerAgent } from './agent-process.js';

export { AGENT_MAIN, type ClientAgent, type ServerAgent } from './agent-process.js';

export const TARGET = 'disk';
export const IDENTITY = pvcIdentity('test', 'disk');
export const OTHER_IDENTITY = pvcIdentity('test', 'other-disk');
export const MiB = 1024 * 1024;

export interface Relay {
  port: number;
  /** Bytes client → server and server → client through the relay so far. */
  up: number;
  down: number;
  /** Cut every open connection (both sides reset). */
  cutAll(): void;
  /** Called on every chunk client → server with the running total. */
  onUp?: (total: number) => void;
  /** Called with the connection's number (1, 2, ...) before it is relayed. */
  onConnection?: (count: number) => void;
  connections: number;
  close(): Promise<void>;
}

export interface BlockRig {
  dir: string;
  startServer(targetPath: string, overrides?: Partial<BlockServerConfig>): Promise<ServerAgent>;
  clientConfig(port: number, source: string, overrides?: Partial<BlockClientConfig> & { identity?: string }): BlockClientConfig;
  startClient(config: BlockClientConfig): ClientAgent;
  relay(serverPort: number): Promise<Relay>;
  cleanup(): void;
}

export async function createBlockRig(): Promise<BlockRig> {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-block-test-'));
  const pki = await createRunPki({
    runId: 'block',
    serverDnsNames: ['localhost'],
    serverIpAddresses: ['127.0.0.1'],
    clientIdentities: [IDENTITY, OTHER_IDENTITY],
  });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const ca = write('ca.crt', pki.ca.certPem);
  const pair = (name: string, value: PemPair) => ({ cert: write(`${name}.crt`, value.certPem), key: write(`${name}.key`, value.keyPem) });
  const serverTls = { ca, ...pair('server', pki.server) };
  const clientTls = {
    [IDENTITY]: { ca, ...pair('client', pki.clients[IDENTITY] as PemPair) },
    [OTHER_IDENTITY]: { ca, ...pair('other', pki.clients[OTHER_IDENTITY] as PemPair) },
  };
  const children: ChildList = [];
  const relays: Relay[] = [];
  let configs = 0;
  return {
    dir,
    async startServer(targetPath, overrides = {}) {
      const config = blockServerConfigSchema.parse({
        listen: '127.0.0.1:0',
        healthListen: '127.0.0.1:0',
        tls: serverTls,
        targets: [{ name: TARGET, path: targetPath, client: IDENTITY }],
        ...overrides,
      });
      const path = write(`server-${++configs}.json`, JSON.stringify(config));
      return startServerAgent(children, ['block-server', '--config', path]);
    },
    clientConfig(port, source, overrides = {}) {
      const { identity = IDENTITY, ...rest } = overrides;
      return blockClientConfigSchema.parse({
        pvc: 'test/disk',
        server: { host: '127.0.0.1', port, serverName: 'localhost' },
        tls: clientTls[identity],
        target: TARGET,
        source,
        terminationLog: join(dir, `result-${++configs}.json`),
        retryBaseMs: 200,
        retryMaxMs: 1000,
        progressIntervalMs: 200,
        ...rest,
      });
    },
    startClient(config) {
      const path = write(`client-${++configs}.json`, JSON.stringify(config));
      return startClientAgent(children, ['block-client', '--config', path]);
    },
    async relay(serverPort) {
      const relay = await startRelay(serverPort);
      relays.push(relay);
      return relay;
    },
    cleanup() {
      killAll(children);
      for (const relay of relays) void relay.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startRelay(serverPort: number): Promise<Relay> {
  const open = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    relay.connections += 1;
    relay.onConnection?.(relay.connections);
    const outbound = connect(serverPort, '127.0.0.1');
    open.add(inbound);
    open.add(outbound);
    inbound.on('data', (chunk: Buffer) => {
      relay.up += chunk.length;
      relay.onUp?.(relay.up);
    });
    outbound.on('data', (chunk: Buffer) => {
      relay.down += chunk.length;
    });
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const end = (): void => {
      inbound.destroy();
      outbound.destroy();
      open.delete(inbound);
      open.delete(outbound);
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const relay: Relay = {
    port: (server.address() as AddressInfo).port,
    up: 0,
    down: 0,
    connections: 0,
    cutAll() {
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    close: () =>
      new Promise((resolveClose) => {
        relay.cutAll();
        server.close(() => resolveClose());
      }),
  };
  return relay;
}

/** A deterministic pseudo-random block (content depends on seed). */
export function randomBlock(seed: number, length = MiB): Buffer {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  let counter = 0;
  while (at < length) {
    const digest = createHash('sha512').update(`${seed}:${counter++}`).digest();
    at += digest.copy(out, at);
  }
  return out;
}

/** Writes an image of `blocks` MiB blocks: `isZero(i)` blocks are left as holes, the others random. */
export function writeImage(path: string, blocks: number, isZero: (index: number) => boolean = () => false, seed = 1): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, blocks * MiB);
    // One random block reused with a per-block stamp keeps generation fast and every block distinct.
    const base = randomBlock(seed);
    for (let index = 0; index < blocks; index++) {
      if (isZero(index)) continue;
      base.writeUInt32BE(index, 0);
      base.writeUInt32BE(seed, 4);
      writeSync(fd, base, 0, base.length, index * MiB);
    }
  } finally {
    closeSync(fd);
  }
}

/** Overwrites block `index` with fresh random content. */
export function changeBlock(path: string, index: number, seed: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBlock(seed), 0, MiB, index * MiB);
  } finally {
    closeSync(fd);
  }
}

/** SHA-256 of the first `bytes` of a file or device. */
export function hashPrefix(path: string, bytes: number): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafe(4 * MiB);
  try {
    for (let at = 0; at < bytes;) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, bytes - at), at);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
      at += read;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}

/** A loop device over `file`, or null when this process cannot make one (not root, no loop driver). */
export function attachLoop(file: string): string | null {
  if (process.getuid?.() !== 0) return null;
  try {
    return execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function detachLoop(device: string): void {
  try {
    execFileSync('losetup', ['-d', device]);
  } catch {
    /* already gone */
  }
}
