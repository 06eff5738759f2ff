// How the connect program tells the client agent why a tunnel failed: one small JSON file whose path
// travels in the environment rsync passes on. Parsing rsync's words would be guesswork.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { TunnelStatus } from './tunnel-error.js';

export const TUNNEL_STATUS_ENV = 'DVM_TUNNEL_STATUS';

/** First failure wins: a later one is a consequence of it. */
export function recordTunnelStatus(status: TunnelStatus): void {
  const file = process.env[TUNNEL_STATUS_ENV];
  if (!file) return;
  try {
    writeFileSync(file, JSON.stringify(status), { flag: 'wx' });
  } catch {
    // Already recorded.
  }
}

/** Reads and removes the status, so the next attempt starts clean. */
export function takeTunnelStatus(file: string): TunnelStatus | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TunnelStatus;
  } catch {
    return null;
  } finally {
    rmSync(file, { force: true });
  }
}
