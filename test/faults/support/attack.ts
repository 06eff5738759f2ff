// Runs attacker.mjs inside the src namespace against the server agent's port.
import { fileURLToPath } from 'node:url';
import type { FaultRig } from './fault-rig.js';
import { SERVER_NAME, SERVER_PORT } from './fault-rig.js';

const ATTACKER = fileURLToPath(new URL('./attacker.mjs', import.meta.url));

export type AttackKind =
  'garbage' | 'rsync-plaintext' | 'slowloris' | 'no-cert' | 'other-ca' | 'expired' | 'server-cert-as-client' | 'tls12-only' | 'silent-authenticated';

export interface AttackConnection {
  ms: number;
  connected?: boolean;
  secure?: boolean;
  received: string;
  /** 'server' when the server ended the connection; 'us' when we gave up waiting. */
  closedBy: 'server' | 'us';
  error?: string;
}

export interface AttackOptions {
  cert?: string;
  key?: string;
  /** Parallel connections. */
  count?: number;
  giveUpMs?: number;
}

export async function runAttack(rig: FaultRig, attack: AttackKind, options: AttackOptions = {}): Promise<AttackConnection[]> {
  const spec = { attack, host: rig.topo.addresses.dst, port: SERVER_PORT, serverName: SERVER_NAME, ca: rig.files.ca, ...options };
  const result = await rig.topo.exec(rig.topo.src, process.execPath, [ATTACKER, JSON.stringify(spec)], { timeoutMs: (options.giveUpMs ?? 20_000) + 15_000 });
  try {
    return (JSON.parse(result.stdout) as { results: AttackConnection[] }).results;
  } catch {
    throw new Error(`attacker ${attack} failed (${result.code}): ${result.stderr.trim() || result.stdout}`);
  }
}

/** An rsync daemon's greeting: seeing it means rsync was spawned for this connection. */
export function sawRsync(connection: AttackConnection): boolean {
  return connection.received.includes('@RSYNCD');
}
