// Tuning knobs of the bench's minimal Node TLS tunnel, read from the environment so the same two
// scripts serve every variant. Pure.

export interface TunnelKnobs {
  /** TLS 1.3 suite list (OpenSSL names). */
  ciphersuites: string;
  /** highWaterMark of every stream on the data path (bytes); undefined keeps Node's default. */
  highWaterMark?: number;
  /** Relay by stream.pipe (what the agent does) or by hand-written data/drain handlers that
   * cork/uncork each burst into one write. */
  relay: 'pipe' | 'corked';
}

export const KNOB_ENV = {
  ciphersuites: 'DVM_BENCH_TUNNEL_CIPHERS',
  highWaterMark: 'DVM_BENCH_TUNNEL_HWM',
  relay: 'DVM_BENCH_TUNNEL_RELAY',
} as const;

/** The agent's own choice (agent/tunnel/tls-options.ts puts AES-128-GCM first). */
export const DEFAULT_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256';

export function readKnobs(env: NodeJS.ProcessEnv): TunnelKnobs {
  const hwm = env[KNOB_ENV.highWaterMark];
  const relay = env[KNOB_ENV.relay] ?? 'pipe';
  if (relay !== 'pipe' && relay !== 'corked') throw new Error(`${KNOB_ENV.relay}: "${relay}" must be pipe or corked`);
  if (hwm !== undefined && !/^\d+$/.test(hwm)) throw new Error(`${KNOB_ENV.highWaterMark}: "${hwm}" must be a number of bytes`);
  return {
    ciphersuites: env[KNOB_ENV.ciphersuites] ?? DEFAULT_CIPHERSUITES,
    ...(hwm !== undefined ? { highWaterMark: Number(hwm) } : {}),
    relay,
  };
}

export function knobsToEnv(knobs: Partial<TunnelKnobs>): NodeJS.ProcessEnv {
  return {
    ...(knobs.ciphersuites ? { [KNOB_ENV.ciphersuites]: knobs.ciphersuites } : {}),
    ...(knobs.highWaterMark !== undefined ? { [KNOB_ENV.highWaterMark]: String(knobs.highWaterMark) } : {}),
    ...(knobs.relay ? { [KNOB_ENV.relay]: knobs.relay } : {}),
  };
}
