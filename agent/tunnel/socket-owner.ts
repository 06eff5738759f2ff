// Who opened a loopback TCP connection: the kernel lists every socket of this network namespace,
// with its owner's uid, in /proc/net/tcp and /proc/net/tcp6. TCP has no SO_PEERCRED; this is the
// same answer, provided the row is found by the connection's whole address pair. Port numbers alone
// are not enough: a socket bound to 127.0.0.N:P that connects to our 127.0.0.1:P has the same two
// port numbers as our own accepted socket, the other way round, and could be taken for it.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { endianness } from 'node:os';

export const PROC_NET_TABLES: readonly string[] = ['/proc/net/tcp', '/proc/net/tcp6'];
const ESTABLISHED = '01';

export interface Endpoint {
  address: string;
  port: number;
}

/** Both ends of a connection as seen from one socket: its own (local) and its peer's (remote). */
export interface AddressPair {
  local: Endpoint;
  remote: Endpoint;
}

export type OwnerLookup =
  | { found: 'one'; uid: number }
  /** No established row has exactly this pair (the peer already closed, or it is not on this host). */
  | { found: 'none' }
  /** More than one row has it: the kernel does not allow that, so trust neither. */
  | { found: 'ambiguous' };

/** An address as 16 bytes in network order, IPv4 as its v4-mapped IPv6 form (::ffff:a.b.c.d), so a
 * tcp6 row of an IPv6 socket talking to an IPv4 listener compares equal to what Node reports. */
export function canonicalAddress(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4)
    return `00000000000000000000ffff${bare
      .split('.')
      .map((part) => Number(part).toString(16).padStart(2, '0'))
      .join('')}`;
  if (family !== 6) return null;
  const [head = '', tail] = bare.toLowerCase().split('::') as [string, string | undefined];
  const groups = (text: string): string[] => {
    if (text === '') return [];
    const parts = text.split(':');
    const last = parts.at(-1) ?? '';
    if (last.includes('.')) {
      // An embedded IPv4 tail (::ffff:127.0.0.1): two groups.
      const bytes = last.split('.').map(Number);
      parts.splice(-1, 1, ((bytes[0]! << 8) | bytes[1]!).toString(16), ((bytes[2]! << 8) | bytes[3]!).toString(16));
    }
    return parts;
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) => group.padStart(4, '0')).join('');
}

/** A /proc/net/tcp{,6} address field ("0100007F:9C40"): the address as printed by the kernel, 32-bit
 * words in host byte order, then the port in hex. */
export function parseProcEndpoint(field: string, littleEndian = endianness() === 'LE'): { address: string; port: number } | null {
  const match = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(field);
  if (!match) return null;
  const words = match[1]!.match(/.{8}/g)!;
  const bytes = words
    .map((word) => {
      const pairs = word.match(/../g)!;
      return (littleEndian ? pairs.reverse() : pairs).join('');
    })
    .join('')
    .toLowerCase();
  return { address: bytes.length === 8 ? `00000000000000000000ffff${bytes}` : bytes, port: parseInt(match[2]!, 16) };
}

/** The uid owning the established socket whose own end is `connecting.local` and whose peer is
 * `connecting.remote`, exactly, from /proc/net/tcp or tcp6 text. Pure. */
export function findConnectionOwner(table: string, connecting: AddressPair, littleEndian = endianness() === 'LE'): OwnerLookup {
  const wantLocal = canonicalAddress(connecting.local.address);
  const wantRemote = canonicalAddress(connecting.remote.address);
  if (wantLocal === null || wantRemote === null) return { found: 'none' };
  const uids: number[] = [];
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || fields[3] !== ESTABLISHED) continue;
    const local = parseProcEndpoint(fields[1]!, littleEndian);
    const remote = parseProcEndpoint(fields[2]!, littleEndian);
    if (!local || !remote) continue;
    if (local.port !== connecting.local.port || remote.port !== connecting.remote.port) continue;
    if (local.address !== wantLocal || remote.address !== wantRemote) continue;
    const uid = Number(fields[7]);
    if (!Number.isInteger(uid) || uid < 0) continue;
    uids.push(uid);
  }
  if (uids.length === 0) return { found: 'none' };
  if (uids.length > 1) return { found: 'ambiguous' };
  return { found: 'one', uid: uids[0]! };
}

export type ConnectionOwner = OwnerLookup | { found: 'unknowable' };

/** Who opened the connection we accepted on `accepted` (its local end is our listener, its remote
 * end the connecting socket): 'unknowable' when no table can be read (not Linux). */
export function connectionOwner(accepted: AddressPair, tables: readonly string[] = PROC_NET_TABLES): ConnectionOwner {
  // The connecting socket's row shows the same pair the other way round.
  const connecting: AddressPair = { local: accepted.remote, remote: accepted.local };
  let readable = 0;
  const uids: number[] = [];
  for (const path of tables) {
    let table: string;
    try {
      table = readFileSync(path, 'latin1');
    } catch {
      continue;
    }
    readable += 1;
    const lookup = findConnectionOwner(table, connecting);
    if (lookup.found === 'ambiguous') return lookup;
    if (lookup.found === 'one') uids.push(lookup.uid);
  }
  if (readable === 0) return { found: 'unknowable' };
  if (uids.length === 0) return { found: 'none' };
  if (uids.length > 1) return { found: 'ambiguous' };
  return { found: 'one', uid: uids[0]! };
}
