// The TLS 1.3 record protection (RFC 8446 §5.2-5.3, §7.1-7.3) in JavaScript, for the few records
// around the hand-over to the native relay (handover.ts: which records node:tls already protected
// with the application traffic keys) and for the tests, which check the native relay's records
// against this independent implementation. Never used per record on the data path.
import { createCipheriv, createDecipheriv, createHmac, type CipherGCMTypes } from 'node:crypto';

/** The TLS 1.3 suites the agent offers (tls-options.ts), as OpenSSL and node:tls name them. */
export type Tls13Suite = 'TLS_AES_128_GCM_SHA256' | 'TLS_AES_256_GCM_SHA384' | 'TLS_CHACHA20_POLY1305_SHA256';

interface SuiteParameters {
  cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  hash: 'sha256' | 'sha384';
  keyLength: number;
}

const SUITES: Readonly<Record<Tls13Suite, SuiteParameters>> = {
  TLS_AES_128_GCM_SHA256: { cipher: 'aes-128-gcm', hash: 'sha256', keyLength: 16 },
  TLS_AES_256_GCM_SHA384: { cipher: 'aes-256-gcm', hash: 'sha384', keyLength: 32 },
  TLS_CHACHA20_POLY1305_SHA256: { cipher: 'chacha20-poly1305', hash: 'sha256', keyLength: 32 },
};

export function isTls13Suite(name: string): name is Tls13Suite {
  return Object.hasOwn(SUITES, name);
}

export const CONTENT = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
export const RECORD_HEADER_LENGTH = 5;
/** Largest TLSCiphertext.length a peer may send (2^14 + 256). */
export const MAX_CIPHERTEXT_LENGTH = 16_384 + 256;

/** HKDF-Expand (RFC 5869 §2.3). (The names cast to CipherGCMTypes above and below include
 * chacha20-poly1305, which has the same AEAD interface in node:crypto.) */
function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let counter = 1; Buffer.concat(blocks).length < length; counter += 1) {
    previous = createHmac(hash, prk)
      .update(Buffer.concat([previous, info, Buffer.from([counter])]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** HKDF-Expand-Label(Secret, Label, Context, Length) of RFC 8446 §7.1. */
export function hkdfExpandLabel(hash: string, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, fullLabel.length]), fullLabel, Buffer.from([context.length]), context]);
  return hkdfExpand(hash, secret, info, length);
}

/** One direction's record protection: the key and IV of a traffic secret, and its record count. */
export class TrafficKeys {
  readonly key: Buffer;
  readonly iv: Buffer;
  private readonly parameters: SuiteParameters;

  constructor(
    readonly suite: Tls13Suite,
    secret: Buffer,
  ) {
    this.parameters = SUITES[suite];
    this.key = hkdfExpandLabel(this.parameters.hash, secret, 'key', Buffer.alloc(0), this.parameters.keyLength);
    this.iv = hkdfExpandLabel(this.parameters.hash, secret, 'iv', Buffer.alloc(0), IV_LENGTH);
  }

  /** application_traffic_secret_N+1 (§7.2), what a KeyUpdate switches to. */
  static nextSecret(suite: Tls13Suite, secret: Buffer): Buffer {
    const hash = SUITES[suite].hash;
    return hkdfExpandLabel(hash, secret, 'traffic upd', Buffer.alloc(0), hash === 'sha384' ? 48 : 32);
  }

  /** The per-record nonce (§5.3): the IV XOR the 64-bit record sequence number, left-padded. */
  nonce(sequence: bigint): Buffer {
    const nonce = Buffer.from(this.iv);
    const padded = Buffer.alloc(IV_LENGTH);
    padded.writeBigUInt64BE(sequence, IV_LENGTH - 8);
    for (let i = 0; i < IV_LENGTH; i += 1) nonce[i]! ^= padded[i]!;
    return nonce;
  }

  /** A whole protected record (header included) of `content` with the inner `type` and `padding`
   * zero bytes (§5.2). */
  seal(sequence: bigint, type: number, content: Buffer, padding = 0): Buffer {
    const inner = Buffer.concat([content, Buffer.from([type]), Buffer.alloc(padding)]);
    const header = Buffer.from([CONTENT.applicationData, 3, 3, (inner.length + TAG_LENGTH) >> 8, (inner.length + TAG_LENGTH) & 0xff]);
    const cipher = createCipheriv(this.parameters.cipher as CipherGCMTypes, this.key, this.nonce(sequence), { authTagLength: TAG_LENGTH });
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(inner), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  /** The inner type and content of a whole record, or null when it does not authenticate under
   * these keys at this sequence number. */
  open(sequence: bigint, record: Buffer): { type: number; content: Buffer } | null {
    if (record.length < RECORD_HEADER_LENGTH + TAG_LENGTH + 1 || record[0] !== CONTENT.applicationData) return null;
    const header = record.subarray(0, RECORD_HEADER_LENGTH);
    const decipher = createDecipheriv(this.parameters.cipher as CipherGCMTypes, this.key, this.nonce(sequence), { authTagLength: TAG_LENGTH });
    decipher.setAAD(header);
    decipher.setAuthTag(record.subarray(record.length - TAG_LENGTH));
    let inner: Buffer;
    try {
      inner = Buffer.concat([decipher.update(record.subarray(RECORD_HEADER_LENGTH, record.length - TAG_LENGTH)), decipher.final()]);
    } catch {
      return null;
    }
    let end = inner.length;
    while (end > 0 && inner[end - 1] === 0) end -= 1;
    if (end === 0) return null;
    return { type: inner[end - 1]!, content: inner.subarray(0, end - 1) };
  }

  /** Zeroes the key material held here (best effort: JavaScript may have copied it). */
  wipe(): void {
    this.key.fill(0);
    this.iv.fill(0);
  }
}

/** Splits a byte stream into whole records (header included) and what is left of a partial one. */
export function splitRecords(bytes: Buffer): { records: Buffer[]; rest: Buffer } {
  const records: Buffer[] = [];
  let offset = 0;
  while (bytes.length - offset >= RECORD_HEADER_LENGTH) {
    const length = bytes.readUInt16BE(offset + 3);
    if (bytes.length - offset < RECORD_HEADER_LENGTH + length) break;
    records.push(bytes.subarray(offset, offset + RECORD_HEADER_LENGTH + length));
    offset += RECORD_HEADER_LENGTH + length;
  }
  return { records, rest: bytes.subarray(offset) };
}

/** How many records at the end of `records` are protected with `keys`, starting at sequence 0: the
 * records node:tls protected with a traffic secret before the hand-over (the ones before them used
 * the handshake keys, or were not encrypted). The run must be unbroken, or null. */
export function countRecordsUnder(keys: TrafficKeys, records: readonly Buffer[]): number | null {
  const first = records.findIndex((record) => keys.open(0n, record) !== null);
  if (first < 0) return 0;
  for (let i = first + 1; i < records.length; i += 1) {
    if (keys.open(BigInt(i - first), records[i]!) === null) return null;
  }
  return records.length - first;
}
