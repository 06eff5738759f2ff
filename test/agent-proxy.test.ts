// Through a real HTTP CONNECT proxy (Debian's tinyproxy) with basic auth, and around it by noProxy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createRig, TEST_IDENTITY, type Rig, type ServerAgent } from './support/agents.js';
import { freePort } from './support/ports.js';
import { startTinyproxy, type Tinyproxy } from './support/tinyproxy.js';
import { compareTrees, formatDifferences, generateTree } from './support/tree.js';

const USER = 'mover';
const PASSWORD = 'pr0xy-s3cret';

let rig: Rig;
let server: ServerAgent;
let proxy: Tinyproxy;
let work: string;
let source: string;

t.before(async () => {
  rig = await createRig();
  work = mkdtempSync(join(tmpdir(), 'dvm-proxy-'));
  source = join(work, 'source');
  await generateTree(source, { files: 60 });
  server = await rig.startServer(join(work, 'unused'), { modules: [{ name: 'data', path: join(work, 'via-proxy'), client: TEST_IDENTITY }] });
  proxy = await startTinyproxy({ user: USER, password: PASSWORD });
});
t.teardown(async () => {
  await proxy?.stop();
  rig.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const settingsWith = (proxyUrl: string, noProxy = '') => ({
  stunnel_tcp_proxy: proxyUrl,
  noProxy: noProxy.split(',').filter(Boolean),
  rsync_backoff_limit: 1,
});

function clientThrough(proxyUrl: string, noProxy = '') {
  const destination = join(work, 'via-proxy');
  const base = rig.clientConfig({ port: server.port, destination }, source);
  return rig.startClient({ ...base, settings: { ...base.settings, ...settingsWith(proxyUrl, noProxy) } });
}

t.test('with the right credentials the copy goes through the proxy', async (t) => {
  const before = proxy.connects().length;
  const client = clientThrough(proxy.url);
  const { exitCode } = await client.done;
  t.equal(exitCode, 0);
  t.ok(proxy.connects().length > before, `tinyproxy saw the CONNECT (${proxy.connects().slice(-1)})`);
  t.same(formatDifferences(await compareTrees(source, join(work, 'via-proxy'))), '', 'identical');
  const everything = [...client.stdoutLines, ...client.stderr].join('\n');
  t.notMatch(everything, PASSWORD, 'the proxy password never appears in output');
});

t.test('a wrong password fails at once with a message about proxy authentication', async (t) => {
  const client = clientThrough(proxy.url.replace(PASSWORD, 'wrong-password'));
  const { exitCode, result } = await client.done;
  t.not(exitCode, 0);
  t.equal(result?.attempts, 1, 'not retried');
  // tinyproxy answers 401 where most proxies answer 407; both are proxy authentication failures.
  t.match(result?.message ?? '', /\b40[17]\b/);
  t.match(result?.message ?? '', /proxy authentication/);
});

t.test('an unreachable proxy fails with a message that names it', async (t) => {
  const port = await freePort();
  const client = clientThrough(`http://${USER}:${PASSWORD}@127.0.0.1:${port}`);
  const { exitCode, result } = await client.done;
  t.not(exitCode, 0);
  t.match(result?.message ?? '', new RegExp(`cannot reach proxy 127\\.0\\.0\\.1:${port}`));
  const attempts = client.events.filter((event) => event.type === 'attempt');
  t.equal(attempts.length, 2, 'retried up to rsync_backoff_limit (1), then given up');
});

t.test('a noProxy match bypasses the proxy', async (t) => {
  for (const noProxy of ['127.0.0.1', '127.0.0.0/8', '*']) {
    const before = proxy.connects().length;
    const client = clientThrough(proxy.url.replace(PASSWORD, 'wrong-password'), noProxy);
    const { exitCode } = await client.done;
    t.equal(exitCode, 0, `noProxy=${noProxy}: copied without the proxy`);
    t.equal(proxy.connects().length, before, `noProxy=${noProxy}: the proxy saw nothing`);
  }
});
