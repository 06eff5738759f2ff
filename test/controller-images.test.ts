// images/check.sh passes on the real Containerfile and catches one that copies a missing file.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { AGENT_NODE_FLAGS } from '../agent/node-flags.js';

const run = promisify(execFile);
const script = new URL('../images/check.sh', import.meta.url).pathname;

t.test('the Containerfile checks pass', async (t) => {
  const { stdout } = await run('bash', [script]);
  t.match(stdout, /images\/check\.sh: ok/);
});

t.test('a COPY of a missing file fails the check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-image-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broken = join(dir, 'Containerfile');
  const original = readFileSync(new URL('../images/Containerfile', import.meta.url), 'utf8');
  writeFileSync(broken, original.replace('COPY tsconfig.json ./', 'COPY tsconfig.json no-such-file.json ./'));
  const error = await run('bash', [script], { env: { ...process.env, CONTAINERFILE: broken } }).then(() => undefined, (caught: { code: number; stderr: string }) => caught);
  t.equal(error?.code, 1);
  t.match(error?.stderr, /copies no-such-file\.json, which does not exist/);
});

t.test('the image wrapper starts node with the agents\' flags (agent/node-flags.ts)', async (t) => {
  const wrapper = readFileSync(new URL('../images/dvm-agent', import.meta.url), 'utf8');
  const exec = wrapper.split('\n').find((line) => line.startsWith('exec node ')) ?? '';
  t.equal(exec.split(' ').slice(2, 2 + AGENT_NODE_FLAGS.length).join(' '), AGENT_NODE_FLAGS.join(' '), exec);
});
