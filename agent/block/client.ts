// dvm-agent block-client (source side): copies one block device (or a regular file standing in for
// one) to the server's target through the mTLS tunnel, sending only blocks whose hash differs from
// the server's and never an all-zero block (docs/block.md). Retries lost connections with backoff;
// a re-run skips what already arrived. Publishes the same events as the file copy.
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { createHealthServer } from '../health.js';
import { listen } from '../../contract/listen-address.js';
import type { Logger } from '../log.js';
import type { ResultEvent } from '../../contract/events.js';
import { createClientMetrics } from '../progress/metrics.js';
import { EventPublisher } from '../progress/publisher.js';
import { publishResult } from '../progress/result.js';
import { ProgressTracker } from '../progress/tracker.js';
import { backoffDelayMs } from '../rsync/backoff.js';
import { dialTunnel } from '../tunnel/dial.js';
import { readTlsMaterial, type TlsMaterial } from '../tunnel/tls-options.js';
import { TunnelError, isPermanentTunnelFailure } from '../tunnel/tunnel-error.js';
import type { BlockClientConfig } from '../../contract/block-config.js';
import { assertDeviceAccess, BlockReader, describeDevice, type DeviceInfo } from './device.js';
import { DeviceDigest, blockCount, hashBlock, isZeroBlock } from './hashing.js';
import {
  BLOCK_MAGIC,
  Frame,
  ProtocolError,
  dataFrameHead,
  decodeHashes,
  decodeJson,
  encodeJson,
  readFrames,
  writeWithBackpressure,
  zeroFrame,
  type Accept,
  type BlockEntry,
  type Committed,
  type Hello,
  type RawFrame,
  type Refuse,
} from './protocol.js';

export interface BlockClientRun {
  result: ResultEvent;
  exitCode: number;
}

/** Exit codes, in rsync's spirit (README): 1 refused or unequal, 10 the server could not be reached,
 * 11 the destination could not be written, 12 the connection kept breaking. */
export const BLOCK_EXIT = { ok: 0, refused: 1, unreachable: 10, io: 11, lost: 12 } as const;

/** Why an attempt failed and whether another one can help. */
class AttemptFailure extends Error {
  constructor(
    readonly retry: boolean,
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface CopyStats {
  /** Bytes of block data sent (zero runs and hashes not counted). */
  sentBytes: number;
  sentBlocks: number;
  zeroRuns: number;
  zeroBlocks: number;
  unchangedBlocks: number;
  blocks: number;
}

interface Session {
  socket: TLSSocket;
  frames: AsyncGenerator<RawFrame>;
  accept: Accept;
  close(): void;
}

function classify(error: unknown): AttemptFailure {
  if (error instanceof AttemptFailure) return error;
  if (error instanceof TunnelError) {
    return new AttemptFailure(
      !isPermanentTunnelFailure(error.kind),
      isPermanentTunnelFailure(error.kind) ? BLOCK_EXIT.refused : BLOCK_EXIT.unreachable,
      error.message,
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  const text = `${code ?? ''} ${(error as Error).message}`;
  if (/ALERT_(CERTIFICATE|BAD_CERTIFICATE|UNKNOWN_CA)|alert (certificate|bad certificate|unknown ca)/i.test(text)) {
    return new AttemptFailure(false, BLOCK_EXIT.refused, `the server refused our client certificate (${code ?? (error as Error).message})`);
  }
  if (code === 'EIO' || code === 'ENXIO') return new AttemptFailure(false, BLOCK_EXIT.io, `source: ${(error as Error).message}`);
  return new AttemptFailure(true, BLOCK_EXIT.lost, `connection lost: ${(error as Error).message}`);
}

async function openSession(config: BlockClientConfig, tls: TlsMaterial, hello: Hello, signal: AbortSignal): Promise<Session> {
  const socket = await dialTunnel({
    ...config.server,
    tls,
    proxyUrl: config.settings.stunnel_tcp_proxy,
    noProxy: config.settings.noProxy,
  });
  const close = (): void => {
    socket.destroy();
  };
  signal.addEventListener('abort', close, { once: true });
  socket.once('close', () => signal.removeEventListener('abort', close));
  // Errors surface through reads and writes; this keeps one between them from being unhandled.
  socket.on('error', () => undefined);
  socket.setTimeout(config.idleTimeoutMs, () => socket.destroy(new ProtocolError(`the server sent nothing for ${config.idleTimeoutMs} ms`)));
  const frames = readFrames(socket);
  socket.write(Buffer.concat([BLOCK_MAGIC, encodeJson(Frame.HELLO, hello)]));
  let first: IteratorResult<RawFrame>;
  try {
    first = await frames.next();
  } catch (error) {
    socket.destroy();
    throw error;
  }
  if (first.done) {
    socket.destroy();
    throw new AttemptFailure(
      false,
      BLOCK_EXIT.refused,
      'the server closed the tunnel right after the TLS handshake, before it answered: ' +
        "it refused our client certificate (not from this run's CA, or expired), or had no room for another connection",
    );
  }
  if (first.value.type === Frame.REFUSE) {
    socket.destroy();
    const refusal = decodeJson<Refuse>(first.value);
    throw new AttemptFailure(false, BLOCK_EXIT.refused, `the server refused the copy (${refusal.reason}): ${refusal.message}`);
  }
  if (first.value.type !== Frame.ACCEPT) {
    socket.destroy();
    throw new ProtocolError(`unexpected first frame ${first.value.type}`);
  }
  return { socket, frames, accept: decodeJson<Accept>(first.value), close: () => socket.destroy() };
}

/** The server's block entries in order, and whatever non-HASHES frame ends them. */
class EntryStream {
  private pending: BlockEntry[] = [];
  private at = 0;
  private next = 0;
  /** The frame after the hashes (DIGEST in verify mode). */
  trailer: RawFrame | null = null;

  constructor(private readonly frames: AsyncGenerator<RawFrame>) {}

  async entry(index: number): Promise<BlockEntry> {
    while (this.at >= this.pending.length) {
      const frame = await this.frame();
      if (frame.type !== Frame.HASHES) throw new ProtocolError(`expected HASHES, got frame ${frame.type}`);
      const { first, entries } = decodeHashes(frame.payload);
      if (first !== this.next) throw new ProtocolError(`HASHES out of order: ${first} instead of ${this.next}`);
      this.next += entries.length;
      this.pending = entries;
      this.at = 0;
    }
    if (this.next - this.pending.length + this.at !== index) throw new ProtocolError('block entries out of step');
    return this.pending[this.at++] as BlockEntry;
  }

  async frame(): Promise<RawFrame> {
    const next = await this.frames.next();
    if (next.done) throw new ProtocolError('the server closed the connection mid-session');
    if (next.value.type === Frame.ERROR) {
      const failure = decodeJson<Refuse>(next.value);
      throw new AttemptFailure(false, BLOCK_EXIT.io, `the server cannot write the target (${failure.reason}): ${failure.message}`);
    }
    return next.value;
  }
}

/** One copy pass: compare every block with the server's entry, send what differs. */
async function copyOnce(
  config: BlockClientConfig,
  tls: TlsMaterial,
  source: DeviceInfo,
  signal: AbortSignal,
  onBlock: (stats: CopyStats) => void,
): Promise<CopyStats> {
  const blockSize = config.blockSizeBytes;
  const session = await openSession(config, tls, { target: config.target, mode: 'copy', sourceBytes: source.bytes, blockSize }, signal);
  const reader = await BlockReader.open(source.path, source.bytes, blockSize);
  const stats: CopyStats = { sentBytes: 0, sentBlocks: 0, zeroRuns: 0, zeroBlocks: 0, unchangedBlocks: 0, blocks: reader.blocks };
  const entries = new EntryStream(session.frames);
  let zeroRun: { first: number; count: number } | null = null;
  const flushZeroRun = async (): Promise<void> => {
    if (!zeroRun) return;
    await writeWithBackpressure(session.socket, zeroFrame(zeroRun.first, zeroRun.count));
    stats.zeroRuns += 1;
    zeroRun = null;
  };
  try {
    for (let index = 0; index < reader.blocks; index++) {
      const [entry, data] = await Promise.all([entries.entry(index), reader.read(index)]);
      if (isZeroBlock(data)) {
        if (entry === null) {
          stats.unchangedBlocks += 1;
        } else {
          // The server's block holds data, ours is zero: it makes it zero (a hole in a file).
          if (zeroRun && zeroRun.first + zeroRun.count === index) zeroRun.count += 1;
          else {
            await flushZeroRun();
            zeroRun = { first: index, count: 1 };
          }
          stats.zeroBlocks += 1;
        }
      } else if (entry !== null && hashBlock(data).equals(entry)) {
        stats.unchangedBlocks += 1;
      } else {
        await writeWithBackpressure(session.socket, dataFrameHead(index, data.length), data);
        stats.sentBytes += data.length;
        stats.sentBlocks += 1;
      }
      onBlock(stats);
      if (signal.aborted) throw new ProtocolError('interrupted');
    }
    await flushZeroRun();
    await writeWithBackpressure(session.socket, encodeJson(Frame.DONE, {}));
    const committed = await entries.frame();
    if (committed.type !== Frame.COMMITTED) throw new ProtocolError(`expected COMMITTED, got frame ${committed.type}`);
    decodeJson<Committed>(committed);
    return stats;
  } finally {
    session.close();
    await reader.close();
  }
}

export interface VerifyOutcome {
  identical: boolean;
  sourceDigest: string;
  targetDigest: string;
  firstDifferentBlock: number | null;
}

/** Both sides read their device again and fold every block's hash into the device digest; the
 * digests must be equal. The per-block entries name the first block that differs. */
export async function verifyOnce(config: BlockClientConfig, tls: TlsMaterial, source: DeviceInfo, signal: AbortSignal): Promise<VerifyOutcome> {
  const blockSize = config.blockSizeBytes;
  const session = await openSession(config, tls, { target: config.target, mode: 'verify', sourceBytes: source.bytes, blockSize }, signal);
  const reader = await BlockReader.open(source.path, source.bytes, blockSize);
  const digest = new DeviceDigest(source.bytes, blockSize);
  const entries = new EntryStream(session.frames);
  let firstDifferentBlock: number | null = null;
  try {
    for (let index = 0; index < reader.blocks; index++) {
      const [entry, data] = await Promise.all([entries.entry(index), reader.read(index)]);
      const hash = isZeroBlock(data) ? null : hashBlock(data);
      digest.add(hash, data.length);
      const same = hash === null ? entry === null : entry !== null && hash.equals(entry);
      if (!same && firstDifferentBlock === null) firstDifferentBlock = index;
      if (signal.aborted) throw new ProtocolError('interrupted');
    }
    const trailer = await entries.frame();
    if (trailer.type !== Frame.DIGEST) throw new ProtocolError(`expected DIGEST, got frame ${trailer.type}`);
    const targetDigest = String(decodeJson<{ digest: string }>(trailer).digest);
    await writeWithBackpressure(session.socket, encodeJson(Frame.DONE, {}));
    const sourceDigest = digest.hex();
    return { identical: sourceDigest === targetDigest && firstDifferentBlock === null, sourceDigest, targetDigest, firstDifferentBlock };
  } finally {
    session.close();
    await reader.close();
  }
}

export async function runBlockClient(config: BlockClientConfig, log: Logger, signal: AbortSignal): Promise<BlockClientRun> {
  const tls = readTlsMaterial(config.tls);
  const source = describeDevice(config.source, 'source');
  assertDeviceAccess(source, 'source');
  const blocks = blockCount(source.bytes, config.blockSizeBytes);
  const startedAt = Date.now();
  const metrics = createClientMetrics(config.pvc);
  const publisher = new EventPublisher([metrics.record]);
  let progressServer: Server | null = null;
  if (config.progressListen) {
    progressServer = createHealthServer({ registry: metrics.registry, isReady: () => true });
    publisher.attach(progressServer);
    const port = await listen(progressServer, config.progressListen, 'progressListen');
    log.info({ port }, 'progress websocket listening on /progress');
  }
  // files/filesTotal count blocks: checked so far, of the device's.
  const tracker = new ProgressTracker(config.pvc, source.bytes, blocks);
  publisher.publish(tracker.snapshot());
  const ticker = setInterval(() => publisher.publish(tracker.snapshot()), config.progressIntervalMs);
  log.info(
    {
      pvc: config.pvc,
      source: source.path,
      kind: source.kind,
      bytes: source.bytes,
      blockSize: config.blockSizeBytes,
      server: `${config.server.host}:${config.server.port}`,
    },
    'block copy starting',
  );

  /** Sent in earlier attempts: bytes never go backwards across retries. */
  let sentBefore = 0;
  let sentNow = 0;
  const onBlock = (stats: CopyStats): void => {
    sentNow = stats.sentBytes;
    const sent = Math.min(source.bytes, sentBefore + sentNow);
    const checked = stats.sentBlocks + stats.zeroBlocks + stats.unchangedBlocks;
    // A block sent in an earlier attempt is unchanged in this one; counting it as transferred keeps
    // the estimate from counting it twice.
    tracker.update({ bytes: sent, percent: 0, listSize: blocks, toCheck: blocks - checked, transferred: Math.ceil(sent / config.blockSizeBytes) });
  };

  let attempt = 0;
  let exitCode = 0;
  let message = '';
  let succeeded = false;
  let last: CopyStats | null = null;
  while (!signal.aborted) {
    attempt += 1;
    tracker.startAttempt(attempt);
    sentNow = 0;
    try {
      last = await copyOnce(config, tls, source, signal, onBlock);
      sentBefore += sentNow;
      exitCode = 0;
      succeeded = true;
      message = 'copy complete';
      log.info({ attempt, ...last }, 'block copy complete');
      break;
    } catch (error) {
      sentBefore += sentNow;
      const failure = classify(error);
      exitCode = failure.exitCode;
      message = failure.message;
      const retries = attempt - 1;
      const retryInMs =
        failure.retry && retries < config.settings.rsync_backoff_limit && !signal.aborted
          ? backoffDelayMs(attempt, config.retryBaseMs, config.retryMaxMs)
          : null;
      publisher.publish({ type: 'attempt', pvc: config.pvc, attempt, exitCode, reason: message, retryInMs });
      log.warn({ attempt, exitCode, reason: message, retryInMs }, retryInMs === null ? 'attempt failed, giving up' : 'attempt failed, retrying');
      if (retryInMs === null) break;
      await sleep(retryInMs, undefined, { signal }).catch(() => undefined);
    }
  }
  if (signal.aborted && !succeeded) message = 'interrupted';

  let verified: boolean | null = null;
  if (succeeded) {
    tracker.complete();
    if (config.verify) {
      try {
        const outcome = await verifyOnce(config, tls, source, signal);
        verified = outcome.identical;
        if (!outcome.identical) {
          succeeded = false;
          exitCode = BLOCK_EXIT.refused;
          const where =
            outcome.firstDifferentBlock === null
              ? ''
              : `; first differing block ${outcome.firstDifferentBlock} at offset ${outcome.firstDifferentBlock * config.blockSizeBytes}`;
          message = `verify: the devices differ (source sha256 ${outcome.sourceDigest}, destination ${outcome.targetDigest}${where})`;
        } else {
          message = `copy complete, verified (sha256 ${outcome.sourceDigest})`;
        }
      } catch (error) {
        // A verify that could not run is not a verify that passed.
        verified = false;
        succeeded = false;
        const failure = classify(error);
        exitCode = failure.exitCode;
        message = `verify could not complete: ${failure.message}`;
      }
      log.info({ verified, detail: message }, 'verify pass done');
    }
  }
  clearInterval(ticker);
  publisher.publish(tracker.snapshot());
  const result = publishResult(
    config.pvc,
    config.terminationLog,
    tracker,
    publisher,
    startedAt,
    { succeeded, exitCode, verified, attempts: attempt, message },
    log,
  );
  await publisher.close();
  progressServer?.close();
  return { result, exitCode: succeeded ? 0 : exitCode > 0 ? exitCode : 1 };
}
