// What rsync runs as RSYNC_CONNECT_PROG (entry: connect-main.ts). rsync hands it one end of a socketpair
// on stdin/stdout; this process opens the TLS tunnel and relays bytes until either side closes.
// When the tunnel fails it records why (tunnel/status-file.ts), so the client agent can tell a wrong
// proxy password from a network blip.
import { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { dialTunnel } from './tunnel/dial.js';
import { readTlsMaterial, type TlsFiles } from './tunnel/tls-options.js';
import { recordTunnelStatus } from './tunnel/status-file.js';
import { TunnelError, type TunnelStatus } from './tunnel/tunnel-error.js';

function report(error: unknown): void {
  const status: TunnelStatus = error instanceof TunnelError
    ? { kind: error.kind, message: error.message }
    : { kind: 'server-unreachable', message: (error as Error).message };
  process.stderr.write(`dvm tunnel: ${status.message}\n`);
  recordTunnelStatus(status);
}

/** In TLS 1.3 the server judges our certificate after our side already saw the handshake end, so
 * its refusal arrives as an alert on the first read. */
function classifyAfterHandshake(error: NodeJS.ErrnoException): TunnelError | null {
  const text = `${error.code ?? ''} ${error.message}`;
  if (/ALERT_(CERTIFICATE|BAD_CERTIFICATE|UNKNOWN_CA)|alert (certificate|bad certificate|unknown ca)/i.test(text)) {
    return new TunnelError('tls-refused', `the server refused our client certificate (${error.code ?? error.message})`);
  }
  return null;
}

/** Where to dial, as the client agent resolved it from its (already validated) config. */
export interface TunnelTarget {
  host: string;
  port: number;
  serverName: string;
  tls: TlsFiles;
  proxyUrl: string;
  noProxy: string[];
}

export const TUNNEL_TARGET_ENV = 'DVM_TUNNEL_TARGET';

export async function runConnect(targetFile: string): Promise<number> {
  let tunnel;
  try {
    const target = JSON.parse(readFileSync(targetFile, 'utf8')) as TunnelTarget;
    tunnel = await dialTunnel({ ...target, tls: readTlsMaterial(target.tls) });
  } catch (error) {
    report(error);
    return 1;
  }
  const rsyncSide = new Socket({ fd: 0, readable: true, writable: true, allowHalfOpen: true });
  return new Promise((resolve) => {
    let failed = false;
    let received = 0;
    tunnel.on('data', (chunk: Buffer) => { received += chunk.length; });
    // rsync greets first thing; a server that hangs up before that refused us after the handshake,
    // which in TLS 1.3 is how a refused client certificate looks from this side.
    const refusedBeforeGreeting = (): void => {
      if (received > 0 || failed) return;
      failed = true;
      report(new TunnelError('tls-refused', 'the server closed the tunnel before rsync answered: it refused our client certificate (not from this run\'s CA, or expired)'));
    };
    tunnel.once('end', refusedBeforeGreeting);
    tunnel.on('error', (error: NodeJS.ErrnoException) => {
      const refused = classifyAfterHandshake(error);
      if (refused && !failed) report(refused);
      else refusedBeforeGreeting();
      failed = true;
      rsyncSide.destroy();
    });
    rsyncSide.on('error', () => {
      failed = true;
      tunnel.destroy();
    });
    rsyncSide.pipe(tunnel);
    tunnel.pipe(rsyncSide);
    let closed = 0;
    const onClose = (): void => {
      closed += 1;
      if (closed === 2) resolve(failed ? 1 : 0);
    };
    tunnel.once('close', onClose);
    rsyncSide.once('close', onClose);
  });
}
