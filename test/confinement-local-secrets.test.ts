// `dvm migrate` (--local, and -f between clusters) takes the proxy password and the progress token from the environment
// (DVM_PROXY, DVM_TOKEN) or from files (--proxy-file, --token-file), not only from flags that every
// user sees in ps. Wherever they come from they never show in an output, in the argv or environment
// of a child process, or in an error message.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { leakedSecrets } from './faults/support/checks.js';
import { processTree } from './faults/support/processes.js';
import { freePort } from './support/ports.js';
import { startTinyproxy, type Tinyproxy } from './support/tinyproxy.js';
import { compareTrees, formatDifferences, generateTree, writeBigFile } from './support/tree.js';

const DVM = resolve(import.meta.dirname, '../dist/controller/cli/dvm.js');
const work = mkdtempSync(join(tmpdir(), 'dvm-secrets-'));
const source = join(work, 'source');
const password = `pw${randomBytes(12).toString('hex')}`;
const token = `tk${randomBytes(16).toString('hex')}`;
const user = 'dvmuser';
let proxy: Tinyproxy;
const children: ChildProcess[] = [];

t.before(async () => {
  await generateTree(source, { files: 20 });
  await writeBigFile(join(source, 'big.bin'), 12 * 1024 * 1024);
  proxy = await startTinyproxy({ user, password });
});
t.teardown(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await proxy?.stop();
  rmSync(work, { recursive: true, force: true });
});

const read = (path: string): string => {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seen: string;
  metricsWithout: number | null;
  metricsWith: number | null;
}

/** Runs dvm with `env` added (DVM_PROXY/DVM_TOKEN removed first); while it runs, collects every
 * descendant's argv and environment, and (with `listen`) asks /metrics with and without the token. */
function runDvm(args: string[], env: Record<string, string> = {}, listenPort?: number): Promise<Run> {
  const base = { ...process.env };
  delete base.DVM_PROXY;
  delete base.DVM_TOKEN;
  const child = spawn(process.execPath, [DVM, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, TMPDIR: work, ...env } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  let seen = '';
  let metricsWithout: number | null = null;
  let metricsWith: number | null = null;
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const sample = setInterval(() => {
    const own = read(`/proc/${child.pid}/cmdline`);
    for (const pid of processTree(child.pid!).filter((p) => p !== child.pid)) {
      const cmdline = read(`/proc/${pid}/cmdline`);
      // A child caught between fork and exec is still the CLI's own image: its environ is the CLI's
      // (DVM_PROXY included, as the user set it). CI sampled one once. What it execs is checked.
      if (cmdline === own) continue;
      seen += `${cmdline}\n${read(`/proc/${pid}/environ`)}\n`;
    }
    // The CLI's own argv holds what the user typed; nothing beyond that.
    seen += `${own.replace(/--(proxy|token) \S+/g, '')}\n`;
    if (listenPort !== undefined && metricsWith === null && /progress: http/.test(stderr)) {
      metricsWith = -1;
      const url = `http://127.0.0.1:${listenPort}/metrics`;
      void (async () => {
        metricsWithout = (await fetch(url)).status;
        metricsWith = (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status;
      })().catch(() => undefined);
    }
  }, 50);
  return new Promise((done) =>
    child.on('close', (code) => {
      clearInterval(sample);
      done({ code: code ?? 1, stdout, stderr, seen, metricsWithout, metricsWith });
    }),
  );
}

const secrets = [password, token];

t.test('DVM_PROXY and DVM_TOKEN: the copy goes through the authenticating proxy and the token guards --listen', async (t) => {
  const port = await freePort();
  const before = proxy.connects().length;
  const run = await runDvm(
    ['migrate', '--local', source, join(work, 'env-destination'), '--bwlimit', '4096', '--listen', `127.0.0.1:${port}`, '--retries', '0'],
    { DVM_PROXY: proxy.url, DVM_TOKEN: token },
    port,
  );
  t.equal(run.code, 0, `succeeded (${run.stderr.trim().split('\n').slice(-1)[0]})`);
  t.equal(formatDifferences(await compareTrees(source, join(work, 'env-destination'))), '', 'identical');
  t.ok(proxy.connects().length > before, `the tunnel went through the proxy (${proxy.connects().length - before} CONNECTs), with its password`);
  t.equal(run.metricsWithout, 401, '/metrics without the token is refused');
  t.equal(run.metricsWith, 200, '/metrics with the token is served');
  t.ok(run.seen.length > 0, 'child processes were sampled');
  t.same(leakedSecrets(run.seen, secrets), [], "no secret in any child's argv or environment");
  t.same(leakedSecrets(run.stdout + run.stderr, secrets), [], 'no secret in any output');
});

t.test('--proxy-file and --token-file: the same, from files (a trailing newline is not part of the secret)', async (t) => {
  const proxyFile = join(work, 'proxy.url');
  const tokenFile = join(work, 'token');
  writeFileSync(proxyFile, `${proxy.url}\n`, { mode: 0o600 });
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const port = await freePort();
  const before = proxy.connects().length;
  const run = await runDvm(
    [
      'migrate',
      '--local',
      source,
      join(work, 'file-destination'),
      '--bwlimit',
      '4096',
      '--listen',
      `127.0.0.1:${port}`,
      '--retries',
      '0',
      '--proxy-file',
      proxyFile,
      '--token-file',
      tokenFile,
    ],
    {},
    port,
  );
  t.equal(run.code, 0, `succeeded (${run.stderr.trim().split('\n').slice(-1)[0]})`);
  t.ok(proxy.connects().length > before, 'through the proxy');
  t.equal(run.metricsWithout, 401);
  t.equal(run.metricsWith, 200);
  t.same(leakedSecrets(run.seen, secrets), [], "no secret in any child's argv or environment");
  t.same(leakedSecrets(run.stdout + run.stderr, secrets), [], 'no secret in any output');
});

t.test('a flag or file wins over the environment', async (t) => {
  const proxyFile = join(work, 'proxy-wins.url');
  writeFileSync(proxyFile, proxy.url, { mode: 0o600 });
  const before = proxy.connects().length;
  const run = await runDvm(['migrate', '--local', source, join(work, 'wins-destination'), '--retries', '0', '--proxy-file', proxyFile], {
    DVM_PROXY: `http://${user}:wrong${password}@127.0.0.1:${proxy.port}`,
  });
  t.equal(run.code, 0, `the file's proxy was used (${run.stderr.trim().split('\n').slice(-1)[0]})`);
  t.ok(proxy.connects().length > before);
});

t.test('a wrong proxy password fails the copy without showing it', async (t) => {
  const wrong = `wrong${randomBytes(8).toString('hex')}`;
  const run = await runDvm(['migrate', '--local', source, join(work, 'wrong-destination'), '--retries', '0'], {
    DVM_PROXY: `http://${user}:${wrong}@127.0.0.1:${proxy.port}`,
  });
  t.not(run.code, 0, 'failed');
  t.match(run.stderr, /proxy authentication/, `says why (${run.stderr.trim().split('\n').slice(-1)[0]})`);
  t.same(leakedSecrets(run.stdout + run.stderr + run.seen, [wrong, ...secrets]), [], 'the wrong password is not shown either');
});

t.test('bad secret input: one line naming where it came from, exit 2, never the secret', async (t) => {
  const secretish = `sec${randomBytes(10).toString('hex')}`;
  const badUrlFile = join(work, 'bad.url');
  writeFileSync(badUrlFile, `ftp://${user}:${secretish}@127.0.0.1:3128\n`);
  const pathUrlFile = join(work, 'path.url');
  writeFileSync(pathUrlFile, `http://${user}:${secretish}@127.0.0.1:3128/path`);
  const emptyFile = join(work, 'empty');
  writeFileSync(emptyFile, '\n');
  const shortToken = join(work, 'short-token');
  writeFileSync(shortToken, 'short');
  const dst = join(work, 'never');
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['a bad URL in --proxy-file', ['--proxy-file', badUrlFile], {}, /--proxy-file .*bad\.url \(stunnel_tcp_proxy\): must use http:\/\//],
    ['a URL with a path in --proxy-file', ['--proxy-file', pathUrlFile], {}, /--proxy-file .*path\.url \(stunnel_tcp_proxy\): must not have a path/],
    ['a bad URL in DVM_PROXY', [], { DVM_PROXY: `ftp://${user}:${secretish}@127.0.0.1:3128` }, /DVM_PROXY \(stunnel_tcp_proxy\): must use http:\/\//],
    ['an empty --proxy-file', ['--proxy-file', emptyFile], {}, /--proxy-file .*empty.* is empty/],
    ['a missing --proxy-file', ['--proxy-file', join(work, 'missing')], {}, /--proxy-file .*missing.*ENOENT/],
    ['--proxy and --proxy-file together', ['--proxy', 'http://127.0.0.1:3128', '--proxy-file', badUrlFile], {}, /--proxy and --proxy-file/],
    ['a missing --token-file', ['--token-file', join(work, 'missing-token')], {}, /--token-file .*missing-token.*ENOENT/],
    ['a short token from --token-file', ['--token-file', shortToken, '--listen', '127.0.0.1:0'], {}, /--listen: progress token must be at least/],
    ['a short DVM_TOKEN', ['--listen', '127.0.0.1:0'], { DVM_TOKEN: 'short' }, /--listen: progress token must be at least/],
    ['--token and --token-file together', ['--token', secretish, '--token-file', shortToken], {}, /--token and --token-file/],
  ];
  type Case = (typeof cases)[number];
  const local = cases.map(([name, extra, env, expected]): Case => [name, ['--local', source, dst, ...extra], env, expected]);
  // Between clusters the same flags and variables hold; they are read before the spec is and before
  // any cluster is contacted.
  const spec = join(work, 'spec.yaml');
  writeFileSync(spec, 'spec:\n  persistentVolumeClaims:\n    - {name: data, namespace: shop}\n');
  const betweenClusters = cases
    .filter(([name]) => /--proxy-file|DVM_PROXY|token-file|together/.test(name))
    .map(([name, extra, env, expected]): Case => [`-f: ${name}`, ['-f', spec, ...extra], env, expected]);
  for (const [name, extra, env, expected] of [...local, ...betweenClusters]) {
    const run = await runDvm(['migrate', ...extra], env);
    t.equal(run.code, 2, `${name}: exit 2`);
    const lines = run.stderr.trim().split('\n');
    t.equal(lines.length, 1, `${name}: one line (${run.stderr.trim()})`);
    t.match(lines[0], expected, `${name}: names it`);
    t.same(leakedSecrets(run.stdout + run.stderr, [secretish]), [], `${name}: the secret is not shown`);
  }
});
