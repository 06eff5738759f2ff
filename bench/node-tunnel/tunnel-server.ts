// The bench's minimal Node TLS tunnel, server half: mutual TLS, then `rsync --server --daemon` per
// connection with the cleartext on its stdin/stdout: the agent server's data path without its
// health, metrics and logging, so tunings can be measured before they go into the agent.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import { readArgs } from './args.js';
import { readKnobs } from './knobs.js';
import { pump } from './relay.js';

const args = readArgs(process.argv.slice(2), ['port', 'rsync-config', 'ca', 'cert', 'key']);
const knobs = readKnobs(process.env);
// node:tls takes TLS 1.3 suites in `ciphers` (it ignores `ciphersuites`).
const tlsSuites = { minVersion: 'TLSv1.3' as const, ciphers: knobs.ciphersuites };

function applyHighWaterMark(socket: TLSSocket, bytes: number | undefined): void {
  if (bytes === undefined) return;
  // Node builds the accepted TLSSocket without caller options; set its stream buffers directly.
  const streams = socket as unknown as { _readableState: { highWaterMark: number }; _writableState: { highWaterMark: number } };
  streams._readableState.highWaterMark = bytes;
  streams._writableState.highWaterMark = bytes;
}

const server = createServer(
  {
    ca: readFileSync(args.ca!),
    cert: readFileSync(args.cert!),
    key: readFileSync(args.key!),
    requestCert: true,
    rejectUnauthorized: true,
    ...tlsSuites,
    allowHalfOpen: true,
  },
  (socket) => {
    socket.setNoDelay(true);
    applyHighWaterMark(socket, knobs.highWaterMark);
    const rsync = spawn('rsync', ['--server', '--daemon', `--config=${args['rsync-config']}`, '.'], { stdio: ['pipe', 'pipe', 'inherit'] });
    socket.on('error', () => rsync.kill());
    rsync.stdin.on('error', () => socket.destroy());
    pump(socket, rsync.stdin, knobs);
    pump(rsync.stdout, socket, knobs);
  },
);
server.listen(Number(args.port), '127.0.0.1', () => process.stdout.write(`listening ${args.port}\n`));
