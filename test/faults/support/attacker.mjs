// Attack clients for the server agent's port. Runs inside the src namespace as
//   node attacker.mjs '{"attack":"garbage","host":"10.231.2.10","port":2222,...}'
// and prints one JSON line: what the server let us see. Plain JS: it runs where no TS loader is.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const spec = JSON.parse(process.argv[2] ?? '{}');
const started = Date.now();
const giveUpMs = spec.giveUpMs ?? 20_000;
const count = spec.count ?? 1;

/** What one connection saw. */
function outcome(fields) {
  return { ms: Date.now() - started, ...fields };
}

function rsyncHello() {
  // What an rsync client says first to a daemon; a server that spawned rsync would answer "@RSYNCD:".
  return '@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n';
}

function plainConnection(send) {
  return new Promise((resolve) => {
    let received = '';
    let connected = false;
    const socket = netConnect({ host: spec.host, port: spec.port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(outcome({ connected, received, closedBy: 'us', error: 'gave up waiting' }));
    }, giveUpMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      connected = true;
      if (send) socket.write(send);
    });
    socket.on('data', (chunk) => {
      received += chunk;
    });
    socket.on('error', (error) => {
      received += '';
      socket.destroy();
      clearTimeout(timer);
      resolve(outcome({ connected, received, closedBy: 'server', error: error.code ?? error.message }));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(outcome({ connected, received, closedBy: 'server' }));
    });
  });
}

function tlsConnection({ cert, key, maxVersion, speak }) {
  return new Promise((resolve) => {
    let received = '';
    let secure = false;
    let settled = false;
    const finish = (fields) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(outcome({ secure, received, ...fields }));
      }
    };
    const socket = tlsConnect({
      host: spec.host,
      port: spec.port,
      servername: spec.serverName,
      ca: readFileSync(spec.ca),
      ...(cert ? { cert: readFileSync(cert), key: readFileSync(key) } : {}),
      ...(maxVersion ? { maxVersion, minVersion: 'TLSv1.2' } : {}),
      rejectUnauthorized: true,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      finish({ closedBy: 'us', error: 'gave up waiting' });
    }, giveUpMs);
    socket.setEncoding('latin1');
    socket.on('secureConnect', () => {
      secure = true;
      // In TLS 1.3 the server judges our certificate after we consider the handshake done; its
      // verdict arrives on the first read. Say what rsync would say, and see what comes back.
      if (speak) socket.write(rsyncHello());
    });
    socket.on('data', (chunk) => {
      received += chunk;
    });
    socket.on('error', (error) => {
      socket.destroy();
      finish({ closedBy: 'server', error: error.code ?? error.message });
    });
    socket.on('close', () => finish({ closedBy: 'server' }));
  });
}

const attacks = {
  garbage: () => plainConnection(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: dvm\r\n\r\n'), randomBytes(4096)])),
  'rsync-plaintext': () => plainConnection(rsyncHello()),
  slowloris: () => plainConnection(null),
  'no-cert': () => tlsConnection({ speak: true }),
  'other-ca': () => tlsConnection({ cert: spec.cert, key: spec.key, speak: true }),
  expired: () => tlsConnection({ cert: spec.cert, key: spec.key, speak: true }),
  'server-cert-as-client': () => tlsConnection({ cert: spec.cert, key: spec.key, speak: true }),
  'tls12-only': () => tlsConnection({ cert: spec.cert, key: spec.key, maxVersion: 'TLSv1.2', speak: true }),
  'silent-authenticated': () => tlsConnection({ cert: spec.cert, key: spec.key, speak: false }),
};

const run = attacks[spec.attack];
if (!run) {
  process.stdout.write(JSON.stringify({ error: `unknown attack ${spec.attack}` }));
  process.exit(2);
}
const results = await Promise.all(Array.from({ length: count }, () => run()));
process.stdout.write(JSON.stringify({ attack: spec.attack, results }));
