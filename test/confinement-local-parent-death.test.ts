// `dvm migrate --local` killed with SIGKILL mid-copy: its agents (and their rsyncs) die with it
// within seconds, the server port refuses connections (the leftover certificate opens nothing), and
// the next run removes the 0700 temp directory with the keys that the killed run could not. Temp
// directories that are not provably ours and stale are left alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { processTree, waitFor } from './faults/support/processes.js';
import { generateTree, writeBigFile } from './support/tree.js';

const DVM = resolve(import.meta.dirname, '../dist/controller/cli/dvm.js');

const work = mkdtempSync(join(tmpdir(), 'dvm-parent-death-'));
// The runs' own TMPDIR: other runs on this machine never see our stale directories, nor we theirs.
const temp = join(work, 'tmp');
mkdirSync(temp, { mode: 0o700 });
const children: ChildProcess[] = [];
t.teardown(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const localDirs = () =>
  readdirSync(temp)
    .filter((name) => name.startsWith('dvm-local-'))
    .sort();

function state(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}
/** Running (a zombie nobody reaped yet is not running). */
const running = (pid: number) => {
  const s = state(pid);
  return s !== null && s !== 'Z' && s !== 'X';
};
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

function refuses(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(true));
  });
}

function runDvm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [DVM, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: temp } });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

t.test('kill -9 of the CLI mid-copy: the agents die with it, and the next run cleans up', async (t) => {
  const source = join(work, 'source');
  await generateTree(source, { files: 20 });
  await writeBigFile(join(source, 'big.bin'), 64 * 1024 * 1024);
  const cli = spawn(process.execPath, [DVM, 'migrate', '--local', source, join(work, 'destination'), '--json', '--bwlimit', '2048'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: temp },
  });
  children.push(cli);
  let copying = false;
  cli.stdout.on('data', (chunk: Buffer) => {
    if (
      String(chunk)
        .split('\n')
        .some((line) => /"type":"progress"/.test(line) && !/"bytes":0,/.test(line))
    )
      copying = true;
  });
  await waitFor(() => copying, 30_000, 'the copy to be under way');
  const [dir] = localDirs();
  t.ok(dir, `the run's temp directory exists (${dir})`);
  const serverPort = (JSON.parse(readFileSync(join(temp, dir!, 'client.json'), 'utf8')) as { server: { port: number } }).server.port;
  const descendants = processTree(cli.pid!).filter((pid) => pid !== cli.pid);
  const agents = descendants.filter((pid) => /agent\/dvm-agent\.js (server|client)/.test(cmdline(pid)));
  t.equal(agents.length, 2, `both agents run (${descendants.map((pid) => `${pid}: ${cmdline(pid).slice(0, 80)}`).join('; ')})`);
  t.ok(
    descendants.some((pid) => /^rsync /.test(cmdline(pid))),
    'and rsync',
  );
  t.notOk(await refuses(serverPort), 'the server listens');

  const killedAt = Date.now();
  cli.kill('SIGKILL');
  await waitFor(() => descendants.every((pid) => !running(pid)), 6_000, 'the agents to die with their parent').catch(() => undefined);
  const left = descendants.filter(running);
  t.same(
    left.map((pid) => `${pid}: ${cmdline(pid)}`),
    [],
    `no agent or rsync of the run is left (${Date.now() - killedAt} ms after the kill)`,
  );
  t.ok(await refuses(serverPort), 'the server port refuses connections');
  t.same(localDirs(), [dir], "the killed run's temp directory is still there (nobody could remove it)");

  // Directories the next run must leave alone: not provably ours and stale.
  const alive = join(temp, 'dvm-local-alive0');
  mkdirSync(alive, { mode: 0o700 });
  const ownRecord = JSON.parse(readFileSync(join(temp, dir!, 'owner.json'), 'utf8')) as Record<string, unknown>;
  const selfStart = readFileSync('/proc/self/stat', 'utf8');
  writeFileSync(
    join(alive, 'owner.json'),
    JSON.stringify({ ...ownRecord, run: { pid: process.pid, start: Number(selfStart.slice(selfStart.lastIndexOf(')') + 2).split(' ')[19]) }, agents: [] }),
  );
  const noRecord = join(temp, 'dvm-local-norec0');
  mkdirSync(noRecord, { mode: 0o700 });
  writeFileSync(join(noRecord, 'ca.crt'), 'x');
  const foreign = join(temp, 'dvm-local-other0');
  mkdirSync(foreign, { mode: 0o700 });
  const deadRecord = JSON.stringify({ ...ownRecord, run: { pid: 999_999_999, start: 1 }, agents: [] });
  writeFileSync(join(foreign, 'owner.json'), deadRecord);
  if (process.getuid?.() === 0) chownSync(foreign, 65534, 65534);
  const linkTarget = join(work, 'linked');
  mkdirSync(linkTarget, { mode: 0o700 });
  writeFileSync(join(linkTarget, 'owner.json'), deadRecord);
  symlinkSync(linkTarget, join(temp, 'dvm-local-link00'));
  const deadButOpen = join(temp, 'dvm-local-mode00');
  mkdirSync(deadButOpen, { mode: 0o755 });
  writeFileSync(join(deadButOpen, 'owner.json'), deadRecord);
  // And one that is ours and stale in every way but was made by another boot: removed too.
  const otherBoot = join(temp, 'dvm-local-boot00');
  mkdirSync(otherBoot, { mode: 0o700 });
  writeFileSync(join(otherBoot, 'owner.json'), JSON.stringify({ ...ownRecord, boot: 'another-boot', run: { pid: process.pid, start: 1 } }));

  const small = join(work, 'small');
  await generateTree(small, { files: 20 });
  const next = await runDvm(['migrate', '--local', small, join(work, 'small-destination')]);
  t.equal(next.code, 0, `the next run succeeds (${next.stderr.trim().split('\n').slice(-2).join(' | ')})`);
  t.notOk(existsSync(join(temp, dir!)), "and removed the killed run's temp directory");
  t.match(next.stderr, new RegExp(`removed .*${dir}`), 'saying so');
  t.notOk(existsSync(otherBoot), 'as it removed one of another boot');
  const kept = ['dvm-local-alive0', 'dvm-local-link00', 'dvm-local-mode00', 'dvm-local-norec0', ...(process.getuid?.() === 0 ? ['dvm-local-other0'] : [])];
  t.same(
    localDirs().filter((name) => name !== 'dvm-local-other0' || process.getuid?.() === 0),
    kept,
    "a live owner's, a record-less, a foreign uid's, a symlinked and a non-0700 directory are left alone",
  );
  t.ok(existsSync(join(linkTarget, 'owner.json')), 'nothing behind the symlink was touched');
});
