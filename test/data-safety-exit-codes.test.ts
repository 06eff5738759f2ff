// Bad input exits 2 in every command (migrate --local, migrate -f, render, status, cleanup, demo),
// with one line; the README says so.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { errorLines, runDvm } from './data-safety-support.js';

const work = mkdtempSync(join(tmpdir(), 'dvm-safety-exit-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const source = join(work, 'src');
mkdirSync(source);
writeFileSync(join(source, 'f'), 'x');
const badSpec = join(work, 'bad.yaml');
writeFileSync(badSpec, 'spec:\n  persistentVolumeClaims: []\n');
const goodSpec = join(work, 'good.yaml');
writeFileSync(goodSpec, 'spec:\n  persistentVolumeClaims: [{name: a, namespace: x, targetName: b}]\n');
/** Loads fine; nothing answers at its address (the run must stop before it would dial). */
const reachableKubeconfig = join(work, 'reachable.kubeconfig');
writeFileSync(
  reachableKubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    clusters: [{ name: 'k', cluster: { server: 'https://127.0.0.1:9', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
  }),
);
const kubeconfig = join(work, 'kubeconfig');
writeFileSync(kubeconfig, 'not: [a kubeconfig\n');

t.test('bad input: exit 2 and one line, in every command', async (t) => {
  const cases: [string, string[]][] = [
    ['migrate --local without SRC', ['migrate', '--local']],
    ['migrate --local, SRC missing', ['migrate', '--local', join(work, 'nope'), join(work, 'dst')]],
    ['migrate --local, bad --bwlimit', ['migrate', '--local', source, join(work, 'dst'), '--bwlimit', 'fast']],
    ['migrate --local, refused extra', ['migrate', '--local', source, join(work, 'dst'), '--rsync-extras', '--rsh=evil']],
    ['migrate --local, bad --listen', ['migrate', '--local', source, join(work, 'dst'), '--listen', 'everywhere']],
    ['migrate --local, DST inside SRC', ['migrate', '--local', source, join(source, 'dst')]],
    ['migrate --local, --listen off loopback without a token', ['migrate', '--local', source, join(work, 'dst'), '--listen', '0.0.0.0:0']],
    ['migrate --local, a short --token', ['migrate', '--local', source, join(work, 'dst'), '--listen', '127.0.0.1:0', '--token', 'short']],
    [
      'migrate -f, --listen off loopback without a token',
      ['migrate', '-f', goodSpec, '--source-kubeconfig', reachableKubeconfig, '--destination-kubeconfig', reachableKubeconfig, '--listen', '0.0.0.0:0'],
    ],
    ['migrate, unknown flag', ['migrate', '--local', source, join(work, 'dst'), '--bogus-flag']],
    ['migrate, SRC without --local', ['migrate', source, join(work, 'dst')]],
    ['migrate, nothing to migrate', ['migrate']],
    ['migrate -f, bad spec', ['migrate', '-f', badSpec]],
    ['migrate -f, missing spec', ['migrate', '-f', join(work, 'missing.yaml')]],
    ['render, bad spec', ['render', '-f', badSpec]],
    ['render, bad -o', ['render', '-f', badSpec, '-o', 'xml']],
    ['render, no -f', ['render']],
    ['status, bad run id', ['status', '--run', 'Not_A_Label!']],
    ['status, bad kubeconfig', ['status', '--source-kubeconfig', kubeconfig, '--destination-kubeconfig', kubeconfig]],
    ['cleanup, bad run id', ['cleanup', '--run', 'Not_A_Label!']],
    ['cleanup, no --run', ['cleanup']],
    ['demo, unknown flag', ['demo', '--bogus']],
    ['unknown command', ['migrat']],
  ];
  for (const [name, args] of cases) {
    const run = await runDvm(args, 30_000);
    t.equal(run.code, 2, `${name}: exit 2 (${run.code}: ${run.stderr.trim().split('\n')[0]})`);
    // commander adds the usage after its own error line (showHelpAfterError)
    const lines = errorLines(run.stderr).filter((line) => /^(dvm|error)\b|Error:/.test(line));
    t.equal(lines.length, 1, `${name}: one error line (${run.stderr.trim()})`);
  }
  const help = await runDvm(['--help']);
  t.equal(help.code, 0, '--help is not an error');
  const migrateHelp = await runDvm(['migrate', '--help']);
  t.equal(migrateHelp.code, 0);
});

t.test('the README tells the same exit code for bad input in local mode and between clusters', async (t) => {
  const readme = readFileSync(resolve(import.meta.dirname, '../README.md'), 'utf8');
  const local = readme.slice(readme.indexOf('## Local mode'), readme.indexOf('## Between clusters'));
  t.match(local, /[Bb]ad input[^.]*exit(s| code)? 2|2 bad input/, 'local mode: 2 for bad input');
  t.match(readme, /Exit codes: 0 all migrated, 1 a PVC or the run failed, 2 bad input/);
});
