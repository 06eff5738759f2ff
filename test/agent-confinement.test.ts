// A holder of one client certificate, driving rsync by hand through a real tunnel into a server,
// non-root and root (both serve "/"): it reaches its own PVC's module only, and only where the server
// says; it cannot name another path, list, read back, or ask for options that delete beyond the copy.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { openRsyncEntry, type RsyncEntry } from '../agent/tunnel/rsync-entry.js';
import { readTlsMaterial } from '../agent/tunnel/tls-options.js';
import { createRig, TEST_IDENTITY, type Rig, type ServerAgent } from './support/agents.js';

const NOBODY = { uid: 65534, gid: 65534 };

function rsync(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('rsync', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** One server per mode: the default non-root one and the root one. Both serve "/" (no chroot,
 * agent/rsync/daemon-config.ts), so both must keep a client inside its own volume. */
interface Mode {
  name: string;
  runAs?: { uid: number; gid: number };
}
const MODES: Mode[] = [{ name: 'non-root server', runAs: NOBODY }, { name: 'root server' }];

const skip = process.getuid?.() !== 0 && 'needs root to run the server as another user';

for (const mode of MODES) {
  t.test(mode.name, { skip }, async (t) => {
    const rig: Rig = await createRig();
    const work = mkdtempSync(join(tmpdir(), 'dvm-confine-'));
    chmodSync(work, 0o755);
    const ours = join(work, 'ours');
    const theirs = join(work, 'theirs');
    const outside = join(work, 'outside');
    for (const dir of [ours, theirs, outside]) {
      mkdirSync(dir);
      writeFileSync(join(dir, 'sentinel'), `${dir}\n`);
    }
    // A non-root server owns its volumes and its rig files, as fsGroup makes it in a pod.
    const owned = [ours, theirs, outside].flatMap((dir) => [dir, join(dir, 'sentinel')]);
    owned.push(rig.dir, ...readdirSync(rig.dir).map((name) => join(rig.dir, name)));
    const owner = mode.runAs;
    if (owner) for (const path of owned) chownSync(path, owner.uid, owner.gid);
    const server: ServerAgent = await rig.startServer(
      ours,
      {
        modules: [
          { name: 'data', path: ours, client: TEST_IDENTITY },
          { name: 'other', path: theirs, client: 'urn:dvm:pvc:test/other' },
        ],
      },
      mode.runAs,
    );
    const config = rig.clientConfig({ port: server.port, destination: ours }, work);
    const entry: RsyncEntry = await openRsyncEntry(
      { ...config.server, tls: readTlsMaterial(config.tls), proxyUrl: '', noProxy: [] },
      pino({ level: 'silent' }),
    );
    t.teardown(async () => {
      await entry.close();
      rig.cleanup();
      rmSync(work, { recursive: true, force: true });
    });
    const url = (path: string): string => `rsync://127.0.0.1:${entry.port}/${path}`;
    t.test("a certificate for one PVC cannot push into another PVC's module", async (t) => {
      const source = mkdtempSync(join(work, 'src-'));
      writeFileSync(join(source, 'planted'), 'x');
      const { code, output } = await rsync(['-a', '--delete', `${source}/`, url('other/')]);
      t.not(code, 0, 'refused');
      t.match(output, /certificate is not for module "other"/, 'with the reason');
      t.ok(existsSync(join(theirs, 'sentinel')), 'the other PVC is untouched');
      t.notOk(existsSync(join(theirs, 'planted')), 'nothing written there');
      t.ok((await server.metric('dvm_server_connections_refused_total', 'reason="module-not-allowed"')) >= 1, 'counted');
    });

    t.test("the destination path is the server's, whatever the client names", async (t) => {
      const source = mkdtempSync(join(work, 'src-'));
      writeFileSync(join(source, 'planted'), 'x');
      // The module serves "/": without the server's gate this path would have been written and
      // --delete would have emptied the directory it names.
      for (const path of [`data${outside}/`, 'data/../../', `data/${work}/`]) {
        const { code, output } = await rsync(['-a', '--delete', `${source}/`, url(path)]);
        t.equal(code, 0, `pushed to ${path} (${output.trim().split('\n').slice(-1)})`);
        t.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), `${outside}\n`, `${path}: the directory named is untouched`);
        t.ok(existsSync(join(theirs, 'sentinel')), `${path}: the other PVC is untouched`);
        t.ok(existsSync(join(ours, 'planted')), `${path}: the data arrived in our own PVC`);
      }
    });

    t.test("a dry run with --delete lists only our own PVC, never the server's file system", async (t) => {
      const empty = mkdtempSync(join(work, 'empty-'));
      const { output } = await rsync(['-n', '-a', '--delete', '-i', `${empty}/`, url('data/etc/')]);
      t.notMatch(output, /passwd|hostname/, 'nothing of /etc');
      t.match(output, /deleting\s+planted/, 'only what is in our own PVC');
    });

    t.test('listing, reading back and deleting beyond the copy are refused', async (t) => {
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

    t.test('a symlink the client planted in its volume is never written through', async (t) => {
      // Push 1 leaves links to a directory outside the volume; push 2 sends directories of those
      // names with files in them. rsync must replace a link, not write into what it points to.
      const links = mkdtempSync(join(work, 'src-'));
      for (const name of ['door', 'door2']) symlinkSync(outside, join(links, name));
      t.equal((await rsync(['-a', `${links}/`, url('data/')])).code, 0, 'the links arrive as links');
      t.equal(readlinkSync(join(ours, 'door')), outside);
      const dirs = mkdtempSync(join(work, 'src-'));
      for (const name of ['door', 'door2']) {
        mkdirSync(join(dirs, name));
        writeFileSync(join(dirs, name, 'sentinel'), 'overwritten\n');
        writeFileSync(join(dirs, name, 'planted'), 'x');
      }
      const untouched = (what: string) => {
        t.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), `${outside}\n`, `${what}: what the link pointed to is untouched`);
        t.notOk(existsSync(join(outside, 'planted')), `${what}: nothing written beside it`);
      };
      // --keep-dirlinks would follow door2 on the way in: refused before anything is written.
      const dirlinks = await rsync(['-a', '--keep-dirlinks', `${dirs}/door2`, url('data/')]);
      t.not(dirlinks.code, 0, '--keep-dirlinks fails');
      t.match(dirlinks.output, /refuse.*keep-dirlinks/i, 'refused by the module, before rsync tries it');
      untouched('--keep-dirlinks');
      const pushed = await rsync(['-a', `${dirs}/`, url('data/')]);
      t.equal(pushed.code, 0, `the directories replace the links (${pushed.output.trim().split('\n').slice(-1)})`);
      untouched('a plain push');
      t.ok(lstatSync(join(ours, 'door')).isDirectory(), 'the volume now holds a real directory');
      t.equal(readFileSync(join(ours, 'door', 'planted'), 'utf8'), 'x', 'with the data in it');
    });
  });
}
