// The bench's minimal Node TLS tunnel, client half. Two ways to put rsync on the tunnel:
//  - connect-prog: rsync runs this as RSYNC_CONNECT_PROG; stdin/stdout is rsync's socketpair.
//  - listener (--listen PORT): a long-lived loopback listener; rsync connects to it over TCP.
import { readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { connect } from 'node:tls';
import { readArgs } from './args.js';
import { readKnobs } from './knobs.js';
import { pump } from './relay.js';

const args = readArgs(process.argv.slice(2), ['port', 'servername', 'ca', 'cert', 'key']);
const knobs = readKnobs(process.env);
// node:tls takes TLS 1.3 suites in `ciphers` (it ignores `ciphersuites`); allowHalfOpen is a real
// tls.connect option Node's type definitions lack: spread, like the agent does.
const tlsSuites = { minVersion: 'TLSv1.3' as const, ciphers: knobs.ciphersuites, allowHalfOpen: true };
const material = { ca: readFileSync(args.ca!), cert: readFileSync(args.cert!), key: readFileSync(args.key!) };

function tunnelFor(rsyncSide: Socket): void {
  const tls = connect({
    host: '127.0.0.1',
    port: Number(args.port),
    servername: args.servername!,
    ...material,
    ...tlsSuites,
    rejectUnauthorized: true,
    ...(knobs.highWaterMark !== undefined ? { highWaterMark: knobs.highWaterMark } : {}),
  });
  tls.setNoDelay(true);
  tls.on('error', () => rsyncSide.destroy());
  rsyncSide.on('error', () => tls.destroy());
  pump(rsyncSide, tls, knobs);
  pump(tls, rsyncSide, knobs);
}

const hwm = knobs.highWaterMark !== undefined ? { readableHighWaterMark: knobs.highWaterMark, writableHighWaterMark: knobs.highWaterMark } : {};
if (args.listen) {
  const listener = createServer({ allowHalfOpen: true, ...(knobs.highWaterMark !== undefined ? { highWaterMark: knobs.highWaterMark } : {}) }, (socket) => {
    socket.setNoDelay(true);
    tunnelFor(socket);
  });
  listener.listen(Number(args.listen), '127.0.0.1', () => process.stdout.write(`listening ${args.listen}\n`));
} else {
  tunnelFor(new Socket({ fd: 0, readable: true, writable: true, allowHalfOpen: true, ...hwm }));
}
