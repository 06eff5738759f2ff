// What node:tls runs on when the connection may be handed to the native relay afterwards: a Duplex
// between the TCP socket and node:tls that passes whole TLS records through and remembers them, so
// that at the hand-over (handover.ts) we know exactly which records node:tls has read and written,
// and hold every byte it has not read. A socket node:tls owns directly would read ahead into
// OpenSSL's buffers, and those bytes (and OpenSSL's record counters) could not be got back.
//
// Records go to node:tls one at a time and only while it is reading (flowing, nothing buffered), so
// what it has been given is exactly what the 'data' events carried. Only the handshake and the few
// records of the rsync daemon greeting pass here; after the hand-over the native relay owns the
// socket, and a connection that stays in JavaScript (TLS 1.2, no addon) switches to passThrough().
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { RECORD_HEADER_LENGTH, splitRecords } from './tls13-record.js';

export class HandoverStream extends Duplex {
  /** Whole records given to node:tls, in order. */
  readonly fedRecords: Buffer[] = [];
  /** Whole records node:tls wrote, in order (a partial one waits in writtenTail). */
  readonly writtenRecords: Buffer[] = [];
  private writtenTail: Buffer = Buffer.alloc(0);
  /** Bytes from the network not given to node:tls yet: whole records first, then a partial one. */
  private inbound: Buffer = Buffer.alloc(0);
  private queued: Buffer[] = [];
  private pendingWrites = 0;
  private frozen = false;
  private gone = false;
  private passing = false;
  private netEnded = false;

  constructor(readonly net: Socket) {
    super({ allowHalfOpen: true });
    net.on('data', (chunk: Buffer) => this.fromNet(chunk));
    net.on('end', () => {
      this.netEnded = true;
      if (this.frozen) return;
      // What is left of a record goes to node:tls as it is, which then sees the end and says why.
      if (this.inbound.length > 0) this.queued.push(this.inbound);
      this.inbound = Buffer.alloc(0);
      this.deliver();
    });
    net.on('error', (error) => {
      if (!this.gone) this.destroy(error);
    });
    net.on('close', () => {
      if (!this.gone) this.destroy();
    });
    // Exactly what node:tls was given (JSStreamSocket reads 'data'); paused again at once, so only
    // node:tls's own readStart sets it flowing.
    this.on('data', (chunk: Buffer) => {
      if (!this.passing) this.fedRecords.push(chunk);
    });
    this.pause();
    this.on('resume', () => this.deliver());
  }

  /** Stops giving records to node:tls: from now on every byte from the network is held for
   * takeHeld(). (node:tls may still write: the client's Finished goes out after the 'secure' event.) */
  freeze(): void {
    this.frozen = true;
  }

  /** The native relay owns the socket now: node:tls must never write again, and nothing it does
   * reaches the socket. */
  handedOver(): void {
    this.frozen = true;
    this.gone = true;
  }

  /** Whether node:tls has been given everything pushed so far (nothing waits in this stream's
   * readable buffer, where it might still be delivered later). */
  get settled(): boolean {
    return this.readableLength === 0;
  }

  /** The network bytes node:tls never saw (after freeze()), for the native relay. */
  takeHeld(): Buffer {
    const held = Buffer.concat([...this.queued, this.inbound]);
    this.queued = [];
    this.inbound = Buffer.alloc(0);
    return held;
  }

  /** Whether the network side ended (FIN) before the hand-over. */
  get ended(): boolean {
    return this.netEnded;
  }

  /** Whether everything node:tls wrote has been handed to the kernel. */
  get idle(): boolean {
    return this.pendingWrites === 0 && this.writableLength === 0;
  }

  /** The connection stays with node:tls for good: relay raw bytes from now on, record nothing. */
  passThrough(): void {
    this.passing = true;
    this.fedRecords.length = 0;
    this.writtenRecords.length = 0;
    this.writtenTail = Buffer.alloc(0);
    const rest = this.takeHeld();
    if (rest.length > 0) this.queued.push(rest);
    this.frozen = false;
    this.gone = false;
    this.deliver();
  }

  private fromNet(chunk: Buffer): void {
    if (this.passing) {
      this.queued.push(chunk);
    } else {
      this.inbound = this.inbound.length === 0 ? chunk : Buffer.concat([this.inbound, chunk]);
      const { records, rest } = splitRecords(this.inbound);
      this.queued.push(...records);
      this.inbound = Buffer.from(rest);
      // A record header that announces more than TLS allows is node:tls's to refuse, as it would on
      // a socket of its own: give it what there is.
      if (rest.length >= RECORD_HEADER_LENGTH && rest.readUInt16BE(3) > 16_384 + 2_048) {
        this.queued.push(this.inbound);
        this.inbound = Buffer.alloc(0);
      }
    }
    this.deliver();
  }

  /** Pushes queued records while node:tls reads synchronously (flowing, empty buffer), then the
   * network's end once everything before it is delivered. */
  private deliver(): void {
    while (!this.frozen && this.queued.length > 0 && this.readableFlowing === true && this.readableLength === 0) {
      this.push(this.queued.shift());
    }
    this.endIfDone();
  }

  private endIfDone(): void {
    if (!this.frozen && this.netEnded && this.queued.length === 0 && this.inbound.length === 0 && !this.readableEnded) this.push(null);
  }

  override _read(): void {
    // Called by flow() while node:tls reads, and also to fill the buffer ahead while it is paused
    // (read(0)): records go out only in the first case, or they would wait in the buffer where the
    // hand-over cannot tell whether node:tls has seen them.
    if (this.frozen || this.readableFlowing !== true) return;
    const next = this.queued.shift();
    if (next !== undefined) this.push(next);
    else this.endIfDone();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.gone) {
      // node:tls writing after the hand-over would put a record out of sequence: never on the wire.
      callback(new Error('node:tls wrote after the hand-over to the native relay'));
      return;
    }
    if (!this.passing) {
      const { records, rest } = splitRecords(Buffer.concat([this.writtenTail, chunk]));
      this.writtenRecords.push(...records);
      this.writtenTail = Buffer.from(rest);
    }
    this.pendingWrites += 1;
    this.net.write(chunk, (error) => {
      this.pendingWrites -= 1;
      callback(error);
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.gone) {
      callback();
      return;
    }
    this.net.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.gone) this.net.destroy(error ?? undefined);
    callback(error);
  }
}
