// The block copier's benchmark (docs/block.md): GiB/s of a full copy of a 1 GiB device and of the
// re-sync of that device after 1% of its blocks changed, through the real agents
// (dist/agent/block/cli.js, one process per side, TLS 1.3 on loopback). Regular files stand in for
// the devices; the page cache is warm. Median of --runs (default 3).
//   node dist/bench/block-bench.js [--gib N] [--runs N] [--block-size BYTES] [--dir DIR]
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AGENT_NODE_FLAGS } from '../contract/node-flags.js';
import { createRunPki } from '../controller/pki/pki.js';
import { AGENT_MAIN } from './transports/dvm.js';

const MiB = 1024 * 1024;

function option(name: string, fallback: number | string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? (process.argv[at + 1] as string) : String(fallback);
}

const GIB = Number(option('gib', 1));
const RUNS = Number(option('runs', 3));
const BLOCK_SIZE = Number(option('block-size', MiB));
const DIR = mkdtempSync(join(option('dir', tmpdir()), 'dvm-block-bench-'));
const SIZE = GIB * 1024 * MiB;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function sparseFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
}

function randomImage(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.allocUnsafe(4 * MiB);
  for (let at = 0; at < SIZE; at += block.length) writeSync(fd, randomFillSync(block), 0, block.length, at);
  closeSync(fd);
}

/** Changes `fraction` of the blocks, spread evenly. */
function changeBlocks(path: string, fraction: number): number {
  const blocks = SIZE / BLOCK_SIZE;
  const count = Math.max(1, Math.round(blocks * fraction));
  const fd = openSync(path, 'r+');
  const block = Buffer.allocUnsafe(BLOCK_SIZE);
  for (let n = 0; n < count; n++) writeSync(fd, randomFillSync(block), 0, BLOCK_SIZE, Math.floor((n * blocks) / count) * BLOCK_SIZE);
  closeSync(fd);
  return count * BLOCK_SIZE;
}

async function main(): Promise<void> {
  const pki = await createRunPki({
    runId: 'bench',
    serverDnsNames: ['localhost'],
    serverIpAddresses: ['127.0.0.1'],
    clientIdentities: ['urn:dvm:pvc:bench/disk'],
  });
  const file = (name: string, text: string): string => {
    const path = join(DIR, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const ca = file('ca.crt', pki.ca.certPem);
  const client = pki.clients['urn:dvm:pvc:bench/disk'];
  if (!client) throw new Error('no client certificate');
  const source = join(DIR, 'source.img');
  const target = join(DIR, 'target.img');
  process.stderr.write(`writing a ${GIB} GiB source image in ${DIR}\n`);
  randomImage(source);
  const serverConfig = file(
    'server.json',
    JSON.stringify({
      listen: '127.0.0.1:0',
      healthListen: '127.0.0.1:0',
      tls: { ca, cert: file('server.crt', pki.server.certPem), key: file('server.key', pki.server.keyPem) },
      targets: [{ name: 'disk', path: target, client: 'urn:dvm:pvc:bench/disk' }],
    }),
  );
  const clientConfig = (port: number): string =>
    file(
      'client.json',
      JSON.stringify({
        pvc: 'bench/disk',
        server: { host: '127.0.0.1', port, serverName: 'localhost' },
        tls: { ca, cert: file('client.crt', client.certPem), key: file('client.key', client.keyPem) },
        target: 'disk',
        source,
        blockSizeBytes: BLOCK_SIZE,
        terminationLog: join(DIR, 'result.json'),
      }),
    );
  sparseFile(target, SIZE);
  const server = spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_MAIN, 'block-server', '--config', serverConfig], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    createInterface({ input: server.stdout! }).on('line', (line) => {
      if (line.includes('"listening"')) resolvePort((JSON.parse(line) as { port: number }).port);
    });
    server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const config = clientConfig(port);
  const copy = (): Promise<{ seconds: number; bytes: number }> =>
    new Promise((resolveRun, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_MAIN, 'block-client', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
      let bytes = 0;
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.includes('"type":"result"')) bytes = (JSON.parse(line) as { bytes: number }).bytes;
      });
      child.once('exit', (code) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (code === 0) resolveRun({ seconds, bytes });
        else reject(new Error(`client exited ${code}`));
      });
    });
  const full: number[] = [];
  const resync: number[] = [];
  const unchanged: number[] = [];
  let changedBytes = 0;
  let resyncSent = 0;
  try {
    for (let run = 0; run < RUNS; run++) {
      sparseFile(target, SIZE);
      const first = await copy();
      full.push(first.seconds);
      changedBytes = changeBlocks(source, 0.01);
      const second = await copy();
      resync.push(second.seconds);
      resyncSent = second.bytes;
      unchanged.push((await copy()).seconds);
      process.stderr.write(
        `run ${run + 1}: full ${first.seconds.toFixed(2)} s, 1% re-sync ${second.seconds.toFixed(2)} s, no-change ${unchanged[run]?.toFixed(2)} s\n`,
      );
    }
  } finally {
    server.kill('SIGTERM');
    rmSync(DIR, { recursive: true, force: true });
  }
  const gibps = (seconds: number): string => (GIB / seconds).toFixed(2);
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ${GIB} GiB device, block ${BLOCK_SIZE / MiB} MiB, median of ${RUNS}`,
    '| pass | time | device GiB/s | sent |',
    '| --- | --- | --- | --- |',
    `| full copy (random data, sparse empty target) | ${median(full).toFixed(2)} s | ${gibps(median(full))} | ${SIZE} B |`,
    `| re-sync, 1% of blocks changed | ${median(resync).toFixed(2)} s | ${gibps(median(resync))} | ${resyncSent} B (changed ${changedBytes} B) |`,
    `| re-sync, nothing changed | ${median(unchanged).toFixed(2)} s | ${gibps(median(unchanged))} | 0 B |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`block-bench: ${error.message}\n`);
  rmSync(DIR, { recursive: true, force: true });
  process.exit(1);
});
