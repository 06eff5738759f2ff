// The block protocol's framing (docs/block.md). Inside the TLS tunnel the client first sends the
// magic line, then both sides exchange frames: type (1 byte), payload length (4 bytes, big endian),
// payload. Control frames carry JSON; DATA, ZERO and HASHES are binary.
import type { Readable, Writable } from 'node:stream';
import { MAX_BLOCK_SIZE } from '../../contract/block-config.js';

/** What a block client sends first; an rsync client's first bytes are "@RSYNCD:", so a server can
 * tell the two apart on one port. */
export const BLOCK_MAGIC = Buffer.from('DVMBLOCK/1\n', 'latin1');
export const HASH_BYTES = 32;

export const Frame = {
  // client → server
  HELLO: 1,
  DATA: 2,
  ZERO: 3,
  DONE: 4,
  // server → client
  ACCEPT: 10,
  REFUSE: 11,
  HASHES: 12,
  DIGEST: 13,
  COMMITTED: 14,
  ERROR: 15,
} as const;
export type FrameType = (typeof Frame)[keyof typeof Frame];

const HEADER_BYTES = 5;
/** A DATA frame's payload is its index and one block. */
export const MAX_PAYLOAD = MAX_BLOCK_SIZE + 64;

export interface RawFrame {
  type: number;
  payload: Buffer;
}

export interface Hello {
  target: string;
  mode: 'copy' | 'verify';
  sourceBytes: number;
  blockSize: number;
}

export interface Accept {
  targetBytes: number;
  blocks: number;
}
export interface Refuse {
  reason: string;
  message: string;
}
export interface Committed {
  written: number;
  zeroed: number;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function encodeHeader(type: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(length, 1);
  return header;
}

export function encodeJson(type: number, value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value), 'utf8');
  return Buffer.concat([encodeHeader(type, payload.length), payload]);
}

export function decodeJson<T>(frame: RawFrame): T {
  try {
    return JSON.parse(frame.payload.toString('utf8')) as T;
  } catch {
    throw new ProtocolError(`frame ${frame.type} does not hold JSON`);
  }
}

/** DATA: index (u32) then the block; the header and index go out as one small buffer and the block
 * is written as it is (no copy). */
export function dataFrameHead(index: number, blockLength: number): Buffer {
  const head = encodeHeader(Frame.DATA, 4 + blockLength);
  const withIndex = Buffer.allocUnsafe(head.length + 4);
  head.copy(withIndex, 0);
  withIndex.writeUInt32BE(index, head.length);
  return withIndex;
}

/** ZERO: a run of blocks that are all zero in the source: first index, count. */
export function zeroFrame(first: number, count: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + 8);
  encodeHeader(Frame.ZERO, 8).copy(frame, 0);
  frame.writeUInt32BE(first, HEADER_BYTES);
  frame.writeUInt32BE(count, HEADER_BYTES + 4);
  return frame;
}

/** One block as the server sees it: all zero (no hash on the wire), or its hash. */
export type BlockEntry = null | Buffer;

/** HASHES: first index (u32), then per block one flag byte (0 zero, 1 hash) and, after a 1, the
 * hash. An all-zero block costs one byte on the wire; any other 33. */
export function hashesFrame(first: number, entries: readonly BlockEntry[]): Buffer {
  let length = 4;
  for (const entry of entries) length += entry === null ? 1 : 1 + HASH_BYTES;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  encodeHeader(Frame.HASHES, length).copy(frame, 0);
  frame.writeUInt32BE(first, HEADER_BYTES);
  let at = HEADER_BYTES + 4;
  for (const entry of entries) {
    if (entry === null) {
      frame[at++] = 0;
    } else {
      frame[at++] = 1;
      entry.copy(frame, at);
      at += HASH_BYTES;
    }
  }
  return frame;
}

export function decodeHashes(payload: Buffer): { first: number; entries: BlockEntry[] } {
  if (payload.length < 4) throw new ProtocolError('short HASHES frame');
  const first = payload.readUInt32BE(0);
  const entries: BlockEntry[] = [];
  let at = 4;
  while (at < payload.length) {
    const flag = payload[at++];
    if (flag === 0) {
      entries.push(null);
    } else if (flag === 1 && at + HASH_BYTES <= payload.length) {
      entries.push(payload.subarray(at, at + HASH_BYTES));
      at += HASH_BYTES;
    } else {
      throw new ProtocolError('malformed HASHES frame');
    }
  }
  return { first, entries };
}

/** Reads frames off a stream; pulling (async iteration) is the backpressure: while a frame is being
 * handled nothing more is read. Chunks are joined once per frame, not once per chunk. */
export async function* readFrames(stream: Readable, options: { magic?: Buffer } = {}): AsyncGenerator<RawFrame> {
  const chunks: Buffer[] = [];
  let buffered = 0;
  let magic = options.magic ?? null;
  const take = (count: number): Buffer => {
    const joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered);
    const taken = joined.subarray(0, count);
    const rest = joined.subarray(count);
    chunks.length = 0;
    if (rest.length > 0) chunks.push(rest);
    buffered = rest.length;
    return taken;
  };
  let need: { type: number; length: number } | null = null;
  const drainComplete = function* (): Generator<RawFrame> {
    if (magic !== null) {
      if (buffered < magic.length) return;
      if (!take(magic.length).equals(magic)) throw new ProtocolError('not a dvm block client');
      magic = null;
    }
    for (;;) {
      if (need === null) {
        if (buffered < HEADER_BYTES) return;
        const header = take(HEADER_BYTES);
        need = { type: header.readUInt8(0), length: header.readUInt32BE(1) };
        if (need.length > MAX_PAYLOAD) throw new ProtocolError(`frame of ${need.length} bytes is larger than any block`);
      }
      if (buffered < need.length) return;
      const payload = need.length === 0 ? Buffer.alloc(0) : take(need.length);
      const frame = { type: need.type, payload };
      need = null;
      yield frame;
    }
  };
  // Leaving the loop early must not destroy the socket: the caller may still answer on it.
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    chunks.push(chunk as Buffer);
    buffered += (chunk as Buffer).length;
    yield* drainComplete();
  }
  if (buffered > 0 || need !== null || magic !== null) throw new ProtocolError('the connection ended inside a frame');
}

/** Writes and waits for room when the socket's buffer is full. */
export async function writeWithBackpressure(stream: Writable, ...buffers: Buffer[]): Promise<void> {
  let ok = true;
  for (const buffer of buffers) ok = stream.write(buffer) && ok;
  if (ok) return;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', closed);
      resolve();
    };
    const closed = (): void => {
      stream.off('drain', done);
      reject(new ProtocolError('the connection closed while sending'));
    };
    stream.once('drain', done);
    stream.once('close', closed);
  });
}
