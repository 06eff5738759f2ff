// The TLS 1.3 application traffic secrets of one connection, taken from node:tls's `keylog` event
// (NSS key log lines: "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>"), for the native relay.
// They are key material: kept only here, as Buffers (which can be zeroed, unlike strings), never
// logged or serialised, and zeroed once the relay has its own copy. The line Node hands us is
// zeroed as soon as it is read; the handshake secrets in other lines are not kept at all.

const LABELS = {
  client: Buffer.from('CLIENT_TRAFFIC_SECRET_0 ', 'latin1'),
  server: Buffer.from('SERVER_TRAFFIC_SECRET_0 ', 'latin1'),
} as const;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

/** Decodes hex straight from the line's bytes into a new Buffer (no intermediate string). */
function decodeHex(line: Buffer, start: number, end: number): Buffer | null {
  if ((end - start) % 2 !== 0 || end <= start) return null;
  const out = Buffer.alloc((end - start) / 2);
  for (let i = 0; i < out.length; i += 1) {
    const high = hexValue(line[start + 2 * i]!);
    const low = hexValue(line[start + 2 * i + 1]!);
    if (high < 0 || low < 0) {
      out.fill(0);
      return null;
    }
    out[i] = (high << 4) | low;
  }
  return out;
}

export class TrafficSecrets {
  #client: Buffer | null = null;
  #server: Buffer | null = null;

  /** For tls.Server's and TLSSocket's 'keylog' event. */
  readonly take = (line: Buffer): void => {
    try {
      for (const side of ['client', 'server'] as const) {
        const label = LABELS[side];
        if (line.length <= label.length || !line.subarray(0, label.length).equals(label)) continue;
        // "<label> <client random hex> <secret hex>\n"
        const space = line.indexOf(0x20, label.length);
        let end = line.length;
        while (end > space && (line[end - 1] === 0x0a || line[end - 1] === 0x0d)) end -= 1;
        const secret = space < 0 ? null : decodeHex(line, space + 1, end);
        if (secret === null) continue;
        if (side === 'client') this.#client = secret;
        else this.#server = secret;
      }
    } finally {
      line.fill(0);
    }
  };

  /** Both secrets, read (the peer's) and write (ours), or null while either is missing. */
  forRole(role: 'client' | 'server'): { read: Buffer; write: Buffer } | null {
    if (this.#client === null || this.#server === null) return null;
    return role === 'client' ? { read: this.#server, write: this.#client } : { read: this.#client, write: this.#server };
  }

  wipe(): void {
    this.#client?.fill(0);
    this.#server?.fill(0);
    this.#client = null;
    this.#server = null;
  }

  toJSON(): string {
    return '[traffic secrets]';
  }
}
