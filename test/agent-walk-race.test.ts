// The source walk for the progress totals runs at idle priority beside the first rsync, so on a busy
// CPU it gets time only when rsync waits. A copy that ends first must not wait for it: under load a
// 200,000-file re-sync took 11.5 s where its rsync took 5.3 s, the rest spent waiting for the walk.
//
// Here the client agent shares one CPU with a busy loop: rsync (normal priority) gets half of it,
// the walk almost none. rsync copies one file (the rest of the tree is excluded); the walk still has
// 30,000 entries to count. The agent must report its result and exit without the totals.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createRig } from './support/agents.js';

const CPU = '0';
const ENTRIES = 30_000;

t.test('a copy that ends before the idle-priority source walk does not wait for it', async (t) => {
  const rig = await createRig();
  const work = mkdtempSync(join(tmpdir(), 'dvm-walk-race-'));
  const hog = spawn('taskset', ['-c', CPU, process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
  t.teardown(() => {
    hog.kill('SIGKILL');
    rig.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const source = join(work, 'source');
  const many = join(source, 'many');
  mkdirSync(many, { recursive: true });
  for (let i = 0; i < ENTRIES; i++) writeFileSync(join(many, `f${i}`), '');
  writeFileSync(join(source, 'data.bin'), Buffer.alloc(64 * 1024, 7));
  const destination = join(work, 'destination');
  mkdirSync(destination);

  const server = await rig.startServer(destination);
  const base = rig.clientConfig({ port: server.port, destination }, source);
  const client = rig.startClient({ ...base, settings: { ...base.settings, rsync_opt_extras: '--exclude=/many/' } });
  // Every thread of the agent, and what it starts later (rsync), on the busy CPU.
  spawnSync('taskset', ['-a', '-p', '-c', CPU, String(client.child.pid)], { stdio: 'ignore' });
  const done = await client.done;

  t.equal(done.exitCode, 0, `the copy exits 0 (${client.stderr.slice(-2).join(' | ')})`);
  t.equal(done.result?.status, 'Succeeded');
  t.equal(readFileSync(join(destination, 'data.bin')).length, 64 * 1024, 'the file arrived');
  const measured = client.stderr.some((line) => line.includes('"msg":"source measured"'));
  t.notOk(measured, 'the agent ended before the walk did (it was not waited for)');
  const last = client.events.filter((event) => event.type === 'progress').pop();
  t.ok(last && last.bytes <= last.totalBytes, 'the events still keep bytes within the total');
  t.equal(client.events.filter((event) => event.type === 'result').length, 1, 'one result, nothing after it');
  t.equal(client.events[client.events.length - 1]?.type, 'result');
});
