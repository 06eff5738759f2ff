// dvm-agent block-server (destination side): accepts authenticated tunnel connections from block
// clients and, for the one target the client certificate is for, streams the target's block hashes
// and writes the blocks the client sends (docs/block.md). The client names a target, never a path;
// the device comes from this server's config.
import type { TLSSocket } from 'node:tls';
import { Counter, Gauge, Registry } from 'prom-client';
import { createHealthServer } from '../health.js';
import { listen } from '../../contract/listen-address.js';
import type { Logger } from '../log.js';
import { certificateUris } from '../rsync/daemon-request.js';
import { createTunnelListener } from '../tunnel/listener.js';
import { readTlsMaterial } from '../tunnel/tls-options.js';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, type BlockServerConfig } from '../../contract/block-config.js';
import { assertDeviceAccess, BlockReader, DeviceWriter, describeDevice, type DeviceInfo } from './device.js';
import { DeviceDigest, blockCount, blockLength, hashBlock, isZeroBlock } from './hashing.js';
import {
  BLOCK_MAGIC,
  Frame,
  ProtocolError,
  decodeJson,
  encodeJson,
  hashesFrame,
  readFrames,
  writeWithBackpressure,
  type BlockEntry,
  type Hello,
  type RawFrame,
} from './protocol.js';

export interface RunningBlockServer {
  port: number;
  healthPort: number;
  /** Serves one authenticated tunnel socket whose first bytes are BLOCK_MAGIC (for a server that
   * shares its port with rsync and dispatches on the first bytes). */
  handleConnection(socket: TLSSocket): void;
  close(): Promise<void>;
}

type Target = BlockServerConfig['targets'][number];

/** Hashes go out in batches: at most this many per frame, and at least every FLUSH_MS. */
const HASH_BATCH = 64;
const FLUSH_MS = 20;

function blockMetrics(registry: Registry) {
  return {
    sessions: new Counter({ name: 'dvm_block_sessions_total', help: 'Accepted block sessions', labelNames: ['mode'], registers: [registry] }),
    refused: new Counter({ name: 'dvm_block_refused_total', help: 'Block connections or sessions refused', labelNames: ['reason'], registers: [registry] }),
    active: new Gauge({ name: 'dvm_block_sessions_active', help: 'Block sessions running now', registers: [registry] }),
    written: new Counter({ name: 'dvm_block_written_bytes_total', help: 'Bytes of blocks written to targets', registers: [registry] }),
    zeroed: new Counter({ name: 'dvm_block_zeroed_bytes_total', help: 'Bytes of target made zero (holes or zeros)', registers: [registry] }),
    hashed: new Counter({ name: 'dvm_block_hashed_bytes_total', help: 'Bytes of targets read and hashed', registers: [registry] }),
  };
}

class Refusal extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface Session {
  abort: AbortController;
  finished: Promise<void>;
}

export async function startBlockServer(config: BlockServerConfig, log: Logger): Promise<RunningBlockServer> {
  const tls = readTlsMaterial(config.tls);
  // Every target must be there at start (a missing device is a pod spec error, not a client's).
  for (const target of config.targets) assertDeviceAccess(describeDevice(target.path, 'target'), 'target');
  const registry = new Registry();
  const metrics = blockMetrics(registry);
  const targets = new Map(config.targets.map((target) => [target.name, target]));
  /** One writer per target: a retry's new session replaces a stale one still draining. */
  const sessions = new Map<string, Session>();
  const sockets = new Set<TLSSocket>();
  let connectionSeq = 0;

  const handleConnection = (socket: TLSSocket): void => {
    const id = ++connectionSeq;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setTimeout(config.idleTimeoutMs, () => socket.destroy());
    const identities = certificateUris(socket.getPeerCertificate().subjectaltname);
    serve(socket, identities, id).catch((error: Error) => {
      if (error instanceof Refusal) {
        metrics.refused.inc({ reason: error.reason });
        log.warn({ connection: id, reason: error.reason, detail: error.message }, 'block session refused');
        endSoon(socket, encodeJson(Frame.REFUSE, { reason: error.reason, message: error.message }));
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EIO' || code === 'EROFS' || code === 'EDQUOT') {
        log.error({ connection: id, error: error.message }, 'block target write failed');
        endSoon(
          socket,
          encodeJson(Frame.ERROR, { reason: code === 'ENOSPC' || code === 'EDQUOT' ? 'no-space' : 'io', message: `destination: ${error.message}` }),
        );
        return;
      }
      log.warn({ connection: id, error: error.message }, 'block session ended');
      socket.destroy();
    });
  };

  const serve = async (socket: TLSSocket, identities: Set<string>, id: number): Promise<void> => {
    const frames = readFrames(socket, { magic: BLOCK_MAGIC });
    const first = await frames.next();
    if (first.done || first.value.type !== Frame.HELLO) throw new Refusal('bad-hello', 'the first frame must be HELLO');
    const hello = validHello(decodeJson<Hello>(first.value));
    const target = targets.get(hello.target);
    // The same answer for a target that does not exist and one that is not ours: nothing is listed.
    if (!target || !identities.has(target.client)) {
      throw new Refusal('target-not-allowed', `this client's certificate is not for target "${hello.target.slice(0, 64)}"`);
    }
    const device = describeDevice(target.path, 'target');
    if (device.bytes < hello.sourceBytes) {
      throw new Refusal(
        'target-too-small',
        `target ${target.name} holds ${device.bytes} bytes, less than the source's ${hello.sourceBytes}: ` +
          "give the destination PVC at least the source's size (a device is never truncated or grown)",
      );
    }
    const previous = sessions.get(target.name);
    if (previous) {
      log.info({ connection: id, target: target.name }, 'a new session replaces the one still running for this target');
      previous.abort.abort();
      await previous.finished;
    }
    const abort = new AbortController();
    let finish = (): void => {};
    const session: Session = {
      abort,
      finished: new Promise((resolve) => {
        finish = resolve;
      }),
    };
    sessions.set(target.name, session);
    const onAbort = (): void => {
      socket.destroy();
    };
    abort.signal.addEventListener('abort', onAbort);
    metrics.sessions.inc({ mode: hello.mode });
    metrics.active.inc();
    log.info(
      { connection: id, target: target.name, mode: hello.mode, sourceBytes: hello.sourceBytes, blockSize: hello.blockSize, targetBytes: device.bytes },
      'block session started',
    );
    try {
      await writeWithBackpressure(socket, encodeJson(Frame.ACCEPT, { targetBytes: device.bytes, blocks: blockCount(hello.sourceBytes, hello.blockSize) }));
      if (hello.mode === 'verify') await serveVerify(socket, frames, device, hello, abort.signal);
      else await serveCopy(socket, frames, device, hello, abort.signal, id, target);
    } finally {
      abort.signal.removeEventListener('abort', onAbort);
      metrics.active.dec();
      if (sessions.get(target.name) === session) sessions.delete(target.name);
      finish();
    }
  };

  /** Streams the first sourceBytes of the target as block entries; in verify mode also folds the
   * digest. Resolves once every entry is on its way. */
  const streamHashes = async (socket: TLSSocket, device: DeviceInfo, hello: Hello, signal: AbortSignal, digest: DeviceDigest | null): Promise<void> => {
    const reader = await BlockReader.open(device.path, hello.sourceBytes, hello.blockSize);
    try {
      let batch: BlockEntry[] = [];
      let batchStart = 0;
      let lastFlush = Date.now();
      for (let index = 0; index < reader.blocks; index++) {
        if (signal.aborted || socket.destroyed) throw new ProtocolError('session aborted');
        const data = await reader.read(index);
        const entry = isZeroBlock(data) ? null : hashBlock(data);
        metrics.hashed.inc(data.length);
        digest?.add(entry, data.length);
        batch.push(entry);
        if (batch.length >= HASH_BATCH || Date.now() - lastFlush >= FLUSH_MS || index === reader.blocks - 1) {
          await writeWithBackpressure(socket, hashesFrame(batchStart, batch));
          batchStart = index + 1;
          batch = [];
          lastFlush = Date.now();
        }
      }
    } finally {
      await reader.close();
    }
  };

  const serveVerify = async (socket: TLSSocket, frames: AsyncGenerator<RawFrame>, device: DeviceInfo, hello: Hello, signal: AbortSignal): Promise<void> => {
    const digest = new DeviceDigest(hello.sourceBytes, hello.blockSize);
    await streamHashes(socket, device, hello, signal, digest);
    await writeWithBackpressure(socket, encodeJson(Frame.DIGEST, { digest: digest.hex() }));
    const next = await frames.next();
    if (!next.done && next.value.type !== Frame.DONE) throw new ProtocolError('a verify session takes no data');
    socket.end();
  };

  const serveCopy = async (
    socket: TLSSocket,
    frames: AsyncGenerator<RawFrame>,
    device: DeviceInfo,
    hello: Hello,
    signal: AbortSignal,
    id: number,
    target: Target,
  ): Promise<void> => {
    const writer = await DeviceWriter.open(device, config.fallocatePath);
    const blocks = blockCount(hello.sourceBytes, hello.blockSize);
    let written = 0;
    let zeroed = 0;
    // The hash stream runs beside the writes: the client sends block i only after it has its hash,
    // which was read before any write to block i.
    const hashing = streamHashes(socket, device, hello, signal, null);
    hashing.catch(() => socket.destroy());
    try {
      for await (const frame of frames) {
        if (frame.type === Frame.DATA) {
          const index = frame.payload.readUInt32BE(0);
          const data = frame.payload.subarray(4);
          if (index >= blocks || data.length !== blockLength(index, hello.sourceBytes, hello.blockSize)) {
            throw new ProtocolError(`DATA for block ${index} has the wrong index or length`);
          }
          await writer.write(index * hello.blockSize, data);
          written += data.length;
          metrics.written.inc(data.length);
        } else if (frame.type === Frame.ZERO) {
          const firstBlock = frame.payload.readUInt32BE(0);
          const count = frame.payload.readUInt32BE(4);
          if (count === 0 || firstBlock + count > blocks) throw new ProtocolError('ZERO range outside the source');
          const offset = firstBlock * hello.blockSize;
          const length = Math.min(hello.sourceBytes, (firstBlock + count) * hello.blockSize) - offset;
          await writer.zero(offset, length);
          zeroed += length;
          metrics.zeroed.inc(length);
        } else if (frame.type === Frame.DONE) {
          await hashing;
          await writer.sync();
          log.info({ connection: id, target: target.name, written, zeroed }, 'block copy committed');
          socket.end(encodeJson(Frame.COMMITTED, { written, zeroed }));
          return;
        } else {
          throw new ProtocolError(`unexpected frame ${frame.type}`);
        }
      }
      throw new ProtocolError('the client went away before DONE');
    } finally {
      // After a failure the hash stream may wait for room the client never makes: it ends with the
      // socket, nothing waits for it here.
      // What was written stays written: a re-run finds those blocks equal and skips them.
      await writer.sync().catch(() => undefined);
      await writer.close();
    }
  };

  const tunnel = createTunnelListener({
    tls,
    minVersion: config.tlsMinVersion,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    maxConnections: config.maxConnections,
    onReady: handleConnection,
    onRefused: (reason, detail) => {
      metrics.refused.inc({ reason });
      log.warn({ reason, detail }, 'connection refused');
    },
  });
  let ready = false;
  const health = createHealthServer({ registry, isReady: () => ready });
  let healthPort: number;
  let port: number;
  try {
    healthPort = await listen(health, config.healthListen, 'healthListen');
    port = await listen(tunnel, config.listen, 'listen');
  } catch (error) {
    health.close();
    throw error;
  }
  ready = true;
  log.info({ port, healthPort, targets: config.targets.map((target) => target.name) }, 'listening');
  return {
    port,
    healthPort,
    handleConnection,
    close: async () => {
      ready = false;
      for (const session of sessions.values()) session.abort.abort();
      for (const socket of sockets) socket.destroy();
      await Promise.all([...sessions.values()].map((session) => session.finished));
      health.closeAllConnections();
      await Promise.all([new Promise((resolve) => tunnel.close(resolve)), new Promise((resolve) => health.close(resolve))]);
    },
  };
}

function validHello(hello: Hello): Hello {
  const ok =
    typeof hello === 'object' &&
    hello !== null &&
    typeof hello.target === 'string' &&
    (hello.mode === 'copy' || hello.mode === 'verify') &&
    Number.isSafeInteger(hello.sourceBytes) &&
    hello.sourceBytes >= 0 &&
    Number.isSafeInteger(hello.blockSize) &&
    hello.blockSize >= MIN_BLOCK_SIZE &&
    hello.blockSize <= MAX_BLOCK_SIZE &&
    (hello.blockSize & (hello.blockSize - 1)) === 0 &&
    blockCount(hello.sourceBytes, hello.blockSize) < 2 ** 32;
  if (!ok) throw new Refusal('bad-hello', 'HELLO must name a target, a mode (copy or verify), the source size and a power-of-two block size');
  return hello;
}

/** Sends a last frame and hangs up; a peer that does not read it within 5 s is cut off. */
function endSoon(socket: TLSSocket, frame: Buffer): void {
  socket.end(frame);
  setTimeout(() => socket.destroy(), 5_000).unref();
}
