// Every transport the benchmark knows, by name. Variants (tunings, connect modes) are one entry each.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AGENT_BUNDLE_FILE } from '../../contract/node-flags.js';
import type { Transport } from '../transport.js';
import { AGENT_MAIN, makeDvmTransport } from './dvm.js';
import { makeNodeTunnelTransport } from './node-tunnel.js';
import { plainTransport } from './plain.js';
import { makeStunnelTransport } from './stunnel.js';

export const TRANSPORTS: Transport[] = [
  plainTransport,
  makeStunnelTransport({
    name: 'stunnel',
    description: 'stunnel4 client + server as MTC runs them (TLS 1.2), server connects to an rsync daemon',
    serverTarget: 'connect',
  }),
  makeStunnelTransport({
    name: 'stunnel-exec',
    description: 'stunnel4 as MTC but the server execs `rsync --server --daemon` (no rsyncd hop)',
    serverTarget: 'exec',
  }),
  makeDvmTransport({ name: 'dvm', description: 'dvm agent server + client (agent defaults: the native TLS relay)' }),
  makeDvmTransport({
    name: 'dvm-js-relay',
    description: 'dvm with the JavaScript relay (DVM_TUNNEL_RELAY=js: node:tls streams, as before the native relay)',
    env: { DVM_TUNNEL_RELAY: 'js' },
  }),
  makeDvmTransport({
    name: 'dvm-unbundled',
    description: "dvm from tsc's output as it is (dist/agent/main.js: its ~360 modules loaded one by one) instead of the bundle",
    agentMain: resolve(dirname(AGENT_MAIN), 'main.js'),
  }),
  makeDvmTransport({ name: 'dvm-gc-threads', description: "dvm with V8's default GC helper threads (no --single-threaded-gc)", nodeFlags: [] }),

  // The agent's data path alone (bench/node-tunnel), one knob changed per variant.
  makeNodeTunnelTransport({
    name: 'tunnel',
    description: "bench Node TLS tunnel: RSYNC_CONNECT_PROG (the agent's former connect mode), AES-128-GCM, pipe()",
    mode: 'connect-prog',
  }),
  makeNodeTunnelTransport({
    name: 'tunnel-pty',
    description: 'tunnel + rsync under a pty with the agent argv (--info=...PROGRESS2)',
    mode: 'connect-prog',
    pty: true,
  }),
  makeNodeTunnelTransport({
    name: 'tunnel-listener',
    description: 'tunnel with a loopback listener instead of RSYNC_CONNECT_PROG (as the agent connects now)',
    mode: 'listener',
  }),
  makeNodeTunnelTransport({
    name: 'tunnel-aes256',
    description: "tunnel with TLS_AES_256_GCM_SHA384 (Node's default suite)",
    mode: 'connect-prog',
    knobs: { ciphersuites: 'TLS_AES_256_GCM_SHA384' },
  }),
  makeNodeTunnelTransport({
    name: 'tunnel-chacha20',
    description: 'tunnel with TLS_CHACHA20_POLY1305_SHA256',
    mode: 'connect-prog',
    knobs: { ciphersuites: 'TLS_CHACHA20_POLY1305_SHA256' },
  }),
  makeNodeTunnelTransport({
    name: 'tunnel-hwm256k',
    description: 'tunnel with highWaterMark 256 KiB on every stream',
    mode: 'connect-prog',
    knobs: { highWaterMark: 256 * 1024 },
  }),
  makeNodeTunnelTransport({
    name: 'tunnel-corked',
    description: 'tunnel relaying with cork/uncork per event-loop turn instead of pipe()',
    mode: 'connect-prog',
    knobs: { relay: 'corked' },
  }),
  makeNodeTunnelTransport({ name: 'tunnel-listener-corked', description: 'tunnel-listener + tunnel-corked', mode: 'listener', knobs: { relay: 'corked' } }),
  makeNodeTunnelTransport({ name: 'tunnel-listener-pty', description: 'tunnel-listener + rsync under a pty with the agent argv', mode: 'listener', pty: true }),
];

/** dvm@DIR: the agent built in another checkout DIR (say, a worktree of an earlier commit), run as
 * that build ran: no Node flags of this one, and its bundle when it has one (older builds do not). */
const OTHER_BUILD = /^dvm@(.+)$/;

function agentOf(checkout: string): string {
  const bundle = resolve(checkout, 'dist/agent', AGENT_BUNDLE_FILE);
  return existsSync(bundle) ? bundle : resolve(checkout, 'dist/agent/main.js');
}

export function findTransport(name: string): Transport | undefined {
  const other = OTHER_BUILD.exec(name);
  if (other) {
    return makeDvmTransport({ name, description: `dvm agent built in ${other[1]}`, agentMain: agentOf(other[1]!), nodeFlags: [] });
  }
  return TRANSPORTS.find((t) => t.name === name);
}
