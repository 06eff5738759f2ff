// The hand-over of an established TLS 1.3 connection from node:tls to the native relay: node:tls
// did the handshake, verified the certificates and (on the server) let the daemon-request gate read
// the request; from here on native code moves the bytes. What has to be exact is the state of the
// record layer at that moment, per direction: the traffic secret (keylog), how many records
// node:tls has protected or opened with it (counted by opening the records HandoverStream saw:
// tls13-record.ts), the network bytes node:tls never read, and the plaintext either side already
// has in its buffers. Any of it wrong and the first record fails to authenticate: the relay stops
// with ERR_RELAY_BAD_RECORD_MAC, it never delivers wrong bytes.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { HandoverStream } from './handover-stream.js';
import { nativeRelay, type RelayHandle, type RelayResult } from './native-relay.js';
import { countRecordsUnder, isTls13Suite, TrafficKeys } from './tls13-record.js';
import { TrafficSecrets } from './traffic-secrets.js';

export type Role = 'client' | 'server';

/** What a connection made for the hand-over carries until then. */
export interface Handover {
  stream: HandoverStream;
  secrets: TrafficSecrets;
  role: Role;
}

const handovers = new WeakMap<TLSSocket, Handover>();

export function attachHandover(tls: TLSSocket, handover: Handover): void {
  handovers.set(tls, handover);
  tls.once('close', () => handover.secrets.wipe());
}

export function handoverOf(tls: TLSSocket): Handover | undefined {
  return handovers.get(tls);
}

/** The HandoverStream a server-side TLSSocket was made on. tls.Server builds the TLSSocket itself,
 * and node:tls keeps the stream it wraps at _handle._parentWrap.stream (a JSStreamSocket); when that
 * ever changes this finds nothing and the connection stays with the JavaScript relay. */
export function underlyingHandoverStream(tls: TLSSocket): HandoverStream | undefined {
  const wrapped = (tls as unknown as { _handle?: { _parentWrap?: { stream?: unknown } } })._handle?._parentWrap?.stream;
  return wrapped instanceof HandoverStream ? wrapped : undefined;
}

/** The connection stays with node:tls (and the JavaScript relay), for this reason. */
export class HandoverRefused extends Error {
  override readonly name = 'HandoverRefused';
}

export interface RunningRelay {
  /** Settles when the relay thread has ended, with why. */
  done: Promise<RelayResult>;
  abort(): void;
}

function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new HandoverRefused('the socket has no file descriptor');
  return fd;
}

function drain(stream: Readable): Buffer[] {
  const chunks: Buffer[] = [];
  for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) chunks.push(chunk);
  return chunks;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new HandoverRefused(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export interface HandOverOptions {
  /** Plaintext the caller has for rsync before anything else (the gate's last bytes). */
  toPlain?: Buffer;
  keyUpdateAfter?: number;
  timeoutMs?: number;
}

/**
 * Moves `tls` (made with a Handover) and rsync's socket `plain` to the native relay. The caller
 * has stopped using both (no pipes, no 'data' listeners). Throws HandoverRefused while the
 * connection can still stay with node:tls (then call handover.stream.passThrough() and relay in
 * JavaScript); any other error means the connection is lost. On success the network socket and
 * `plain` are closed here (the relay has its own descriptors); `tls` is left open and paused so
 * whoever counts connections sees it close when the caller destroys it after `done`.
 */
export async function handOver(tls: TLSSocket, plain: Socket, options: HandOverOptions = {}): Promise<RunningRelay> {
  const handover = handovers.get(tls);
  if (handover === undefined) throw new HandoverRefused('the connection was not made for a hand-over');
  const relay = nativeRelay();
  if (!relay.available) throw new HandoverRefused(relay.reason);
  const { stream, secrets, role } = handover;
  stream.freeze();
  tls.pause();
  plain.pause();
  const protocol = tls.getProtocol();
  if (protocol !== 'TLSv1.3') throw new HandoverRefused(`the connection uses ${protocol ?? 'no TLS version'}; the native relay speaks TLS 1.3 only`);
  const cipher = tls.getCipher().standardName;
  if (!isTls13Suite(cipher)) throw new HandoverRefused(`cipher ${cipher} is not one the native relay has`);
  const traffic = secrets.forRole(role);
  if (traffic === null) throw new HandoverRefused('the traffic secrets were not logged by node:tls');
  // What node:tls and the caller wrote must be on the wire (in order) before the relay writes.
  await until(() => tls.writableLength === 0 && stream.idle && plain.writableLength === 0, options.timeoutMs ?? 5_000, "flushing node:tls's writes");
  if (tls.destroyed || plain.destroyed) throw new Error('the connection closed during the hand-over');
  // From here on synchronous: no I/O callback can run in between.
  if (!stream.settled) throw new HandoverRefused('node:tls has network bytes it has not read');
  const readKeys = new TrafficKeys(cipher, traffic.read);
  const writeKeys = new TrafficKeys(cipher, traffic.write);
  const readSeq = countRecordsUnder(readKeys, stream.fedRecords);
  const writeSeq = countRecordsUnder(writeKeys, stream.writtenRecords);
  readKeys.wipe();
  writeKeys.wipe();
  if (readSeq === null || writeSeq === null) throw new HandoverRefused('the records node:tls exchanged are not one unbroken run per direction');
  const netFd = fdOf(stream.net);
  const plainFd = fdOf(plain);
  const toPlain = Buffer.concat([...(options.toPlain ? [options.toPlain] : []), ...drain(tls)]);
  const toNet = Buffer.concat(drain(plain));
  let settle!: (result: RelayResult) => void;
  const done = new Promise<RelayResult>((resolve) => {
    settle = resolve;
  });
  let handle: RelayHandle;
  try {
    handle = relay.start(
      {
        netFd,
        plainFd,
        cipher,
        readSecret: traffic.read,
        writeSecret: traffic.write,
        readSeq,
        writeSeq,
        netPending: stream.takeHeld(),
        toPlain,
        toNet,
        ...(options.keyUpdateAfter !== undefined ? { keyUpdateAfter: options.keyUpdateAfter } : {}),
      },
      settle,
    );
  } finally {
    // The relay has its own copy of the secrets (or none): ours go now.
    secrets.wipe();
    toPlain.fill(0);
    toNet.fill(0);
  }
  stream.handedOver();
  stream.net.destroy();
  plain.destroy();
  return { done, abort: () => handle.abort() };
}

/** Makes a client connection ready for a hand-over: node:tls runs on a HandoverStream over `tcp`;
 * pass the returned stream to tls.connect as `socket`, then attach(tls). The records after the
 * server's Finished are left for the relay: node:tls stops reading at the end of the handshake. */
export function prepareClientHandover(tcp: Socket): { stream: HandoverStream; attach(tls: TLSSocket): void } {
  const stream = new HandoverStream(tcp);
  const secrets = new TrafficSecrets();
  return {
    stream,
    attach: (tls) => {
      tls.on('keylog', secrets.take);
      tls.once('secure', () => stream.freeze());
      attachHandover(tls, { stream, secrets, role: 'client' });
    },
  };
}
