// A holder of one client certificate, driving rsync by hand through a real tunnel into a non-root
// server (whose modules serve "/"): it reaches its own PVC's module only, and only where the server
// says; it cannot name another path, list, read back, or ask for options that delete beyond the copy.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { openRsyncEntry, type RsyncEntry } from '../agent/tunnel/rsync-entry.js';
import { readTlsMaterial } from '../agent/tunnel/tls-options.js';
import { createRig, TEST_IDENTITY, type Rig, type ServerAgent } from './support/agents.js';

const NOBODY = { uid: 65534, gid: 65534 };

let rig: Rig;
let server: ServerAgent;
let entry: RsyncEntry;
let work: string;
let ours: string;
let theirs: string;
let outside: string;

function rsync(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('rsync', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}
const url = (path: string): string => `rsync://127.0.0.1:${entry.port}/${path}`;

t.before(async () => {
  rig = await createRig();
  work = mkdtempSync(join(tmpdir(), 'dvm-confine-'));
  chmodSync(work, 0o755);
  ours = join(work, 'ours');
  theirs = join(work, 'theirs');
  outside = join(work, 'outside');
  for (const dir of [ours, theirs, outside]) {
    mkdirSync(dir);
    writeFileSync(join(dir, 'sentinel'), `${dir}\n`);
    chownSync(dir, NOBODY.uid, NOBODY.gid);
    chownSync(join(dir, 'sentinel'), NOBODY.uid, NOBODY.gid);
  }
  chownSync(rig.dir, NOBODY.uid, NOBODY.gid);
  for (const name of readdirSync(rig.dir)) chownSync(join(rig.dir, name), NOBODY.uid, NOBODY.gid);
  server = await rig.startServer(
    ours,
    {
      modules: [
        { name: 'data', path: ours, client: TEST_IDENTITY },
        { name: 'other', path: theirs, client: 'urn:dvm:pvc:test/other' },
      ],
    },
    NOBODY,
  );
  const config = rig.clientConfig({ port: server.port, destination: ours }, work);
  entry = await openRsyncEntry({ ...config.server, tls: readTlsMaterial(config.tls), proxyUrl: '', noProxy: [] }, pino({ level: 'silent' }));
});
t.teardown(async () => {
  await entry?.close();
  rig.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const skip = process.getuid?.() !== 0 && 'needs root to run the server as another user';

t.test("a certificate for one PVC cannot push into another PVC's module", { skip }, async (t) => {
  const source = mkdtempSync(join(work, 'src-'));
  writeFileSync(join(source, 'planted'), 'x');
  const { code, output } = await rsync(['-a', '--delete', `${source}/`, url('other/')]);
  t.not(code, 0, 'refused');
  t.match(output, /certificate is not for module "other"/, 'with the reason');
  t.ok(existsSync(join(theirs, 'sentinel')), 'the other PVC is untouched');
  t.notOk(existsSync(join(theirs, 'planted')), 'nothing written there');
  t.ok((await server.metric('dvm_server_connections_refused_total', 'reason="module-not-allowed"')) >= 1, 'counted');
});

t.test("the destination path is the server's, whatever the client names", { skip }, async (t) => {
  const source = mkdtempSync(join(work, 'src-'));
  writeFileSync(join(source, 'planted'), 'x');
  // Without root the module serves "/": before, this path would have been written and --delete
  // would have emptied the directory it names.
  for (const path of [`data${outside}/`, 'data/../../', `data/${work}/`]) {
    const { code, output } = await rsync(['-a', '--delete', `${source}/`, url(path)]);
    t.equal(code, 0, `pushed to ${path} (${output.trim().split('\n').slice(-1)})`);
    t.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), `${outside}\n`, `${path}: the directory named is untouched`);
    t.ok(existsSync(join(theirs, 'sentinel')), `${path}: the other PVC is untouched`);
    t.ok(existsSync(join(ours, 'planted')), `${path}: the data arrived in our own PVC`);
  }
});

t.test("a dry run with --delete lists only our own PVC, never the server's file system", { skip }, async (t) => {
  const empty = mkdtempSync(join(work, 'empty-'));
  const { output } = await rsync(['-n', '-a', '--delete', '-i', `${empty}/`, url('data/etc/')]);
  t.notMatch(output, /passwd|hostname/, 'nothing of /etc');
  t.match(output, /deleting\s+planted/, 'only what is in our own PVC');
});

t.test('listing, reading back and deleting beyond the copy are refused', { skip }, async (t) => {
  const list = await rsync([url('')]);
  t.not(list.code, 0, 'no module listing');
  const read = await rsync(['-a', url('data/'), join(work, 'pulled')]);
  t.not(read.code, 0, 'no download from a push module');
  t.notOk(existsSync(join(work, 'pulled', 'sentinel')), 'nothing read back');
  const source = mkdtempSync(join(work, 'src-'));
  writeFileSync(join(ours, 'sentinel'), 'ours\n');
  const excluded = await rsync(['-a', '--delete', '--delete-excluded', '--exclude=*', `${source}/`, url('data/')]);
  t.not(excluded.code, 0, '--delete-excluded refused');
  t.match(excluded.output, /refuse.*delete-excluded|delete-excluded.*refuse/i, 'rsync names the refused option');
  t.ok(existsSync(join(ours, 'sentinel')), 'our PVC still holds its files');
  // With secluded args the paths would travel inside the protocol, past the server's gate.
  const secluded = await rsync(['-s', '-a', `${source}/`, url(`data${outside}/`)]);
  t.not(secluded.code, 0, 'secluded args refused (the gate hangs up on a request without its destination)');
  t.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), `${outside}\n`, 'nothing written where the client pointed');
});
