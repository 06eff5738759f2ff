// The typed face of the native relay (native/relay/, in the agent's addon: ../native-addon.ts):
// after node:tls's handshake, one thread of its own moves the bytes between the TLS socket and
// rsync's, doing the TLS 1.3 record layer itself with OpenSSL's AEADs (the ones inside the node
// binary), with no JavaScript per record.
// When the addon cannot be loaded (not built, another platform) or DVM_TUNNEL_RELAY=js, callers keep
// the JavaScript relay and say so once (relayUnavailable()).
import { nativeAddon } from '../native-addon.js';
import type { Tls13Suite } from './tls13-record.js';

/** Why a relay ended: null is a clean end (close_notify both ways, everything delivered). */
export type RelayErrorCode =
  /** The network stream ended without close_notify, or inside a record: cut. */
  | 'ERR_RELAY_TRUNCATED'
  /** A record did not authenticate: tampered, replayed, reordered, or keys out of step. */
  | 'ERR_RELAY_BAD_RECORD_MAC'
  | 'ERR_RELAY_RECORD_OVERFLOW'
  /** A record or message TLS 1.3 does not allow here (plaintext record, unexpected handshake message). */
  | 'ERR_RELAY_UNEXPECTED_MESSAGE'
  | 'ERR_RELAY_DECODE_ERROR'
  /** The peer sent a fatal alert (`alert` has its number). */
  | 'ERR_RELAY_PEER_ALERT'
  /** Reading or writing the TCP socket failed (reset, ...). */
  | 'ERR_RELAY_NET_IO'
  /** Reading or writing rsync's socket failed (rsync went away). */
  | 'ERR_RELAY_PLAIN_IO'
  /** abort() was called. */
  | 'ERR_RELAY_ABORTED'
  | 'ERR_RELAY_INTERNAL';

export interface RelayResult {
  code: RelayErrorCode | null;
  message: string;
  alert: number | null;
  /** Plaintext bytes given to rsync's socket, node:tls's leftover included. */
  bytesToPlain: number;
  /** Plaintext bytes read from rsync's socket (or handed over) and sent. */
  bytesFromPlain: number;
  recordsIn: number;
  recordsOut: number;
  keyUpdatesIn: number;
  keyUpdatesOut: number;
  closeNotifyReceived: boolean;
  /** rsync's side had ended (EOF) before the relay did. */
  plainEnded: boolean;
  /** The relay thread's own CPU time. */
  cpuUserMs: number;
  cpuSystemMs: number;
}

export interface RelayOptions {
  /** The TCP socket, which carries TLS records; the relay takes its own duplicate. */
  netFd: number;
  /** rsync's socket; likewise. */
  plainFd: number;
  cipher: Tls13Suite;
  /** The peer's and our application traffic secrets (copied; zero yours afterwards). */
  readSecret: Buffer;
  writeSecret: Buffer;
  /** Records node:tls already opened / protected with these secrets. */
  readSeq: number;
  writeSeq: number;
  /** Network bytes node:tls never read. */
  netPending?: Buffer;
  /** Plaintext for rsync first (what node:tls opened that rsync has not had). */
  toPlain?: Buffer;
  /** Plaintext rsync wrote that is not sent yet. */
  toNet?: Buffer;
  /** Our KeyUpdate after this many records under one key (default 2^23). */
  keyUpdateAfter?: number;
}

export interface RelayHandle {
  abort(): void;
}

interface Addon {
  start(options: RelayOptions, onDone: (result: RelayResult) => void): RelayHandle;
}

export type NativeRelay = { available: true; start: Addon['start'] } | { available: false; reason: string };

let loaded: NativeRelay | undefined;

/** The relay of the agent's addon; DVM_TUNNEL_RELAY=js turns it off. */
export function nativeRelay(): NativeRelay {
  if (loaded !== undefined) return loaded;
  if (process.env.DVM_TUNNEL_RELAY === 'js') return (loaded = { available: false, reason: 'DVM_TUNNEL_RELAY=js' });
  const addon = nativeAddon();
  if (!addon.available) return (loaded = addon);
  const relay = addon.exports as unknown as Addon;
  return (loaded = { available: true, start: relay.start.bind(relay) });
}

let told = false;

/** The one log line that says the JavaScript relay carries the bytes, and why (null when the
 * native relay is there, or this was said already). */
export function relayUnavailable(): string | null {
  const relay = nativeRelay();
  if (relay.available || told) return null;
  told = true;
  return `native TLS relay unavailable (${relay.reason}): tunnel bytes go through the JavaScript relay`;
}
