// Issue 5, scenario 7 (+8): every malformed agent config, `dvm migrate --local` flag, spec and
// settings input gives one clear error naming the key, a non-zero exit, creates nothing, and
// never repeats a secret.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../controller/config/errors.js';
import { parseSettings, parseSpec } from '../../controller/config/load.js';
import { createRunPki } from '../../controller/pki/pki.js';
import { leakedSecrets } from './support/checks.js';
import { AGENT_MAIN, CLIENT_IDENTITY as IDENTITY, pemSecrets } from './support/fault-rig.js';
import { malformedCases, PLANTED_PASSWORD, type AgentConfigCase, type CliCase, type MalformedCase } from './support/malformed-cases.js';

const DVM_CLI = resolve(import.meta.dirname, '../../dist/controller/cli/dvm.js');
const CONCURRENCY = 4;
/** Only a safety net: an accepted server config is recognised by its "listening" line at once. */
const GIVE_UP_MS = 60_000;

interface Outcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(command: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolveRun) => {
    const [program, ...args] = command;
    const child = spawn(program as string, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // A bad input that is accepted starts a server (or a copy, which ends by itself): stop it, and
    // the case fails.
    const accepted = (): void => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('"msg":"listening"')) accepted();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(accepted, GIVE_UP_MS);
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      resolveRun({ exitCode, stdout, stderr, timedOut });
    });
  });
}

async function inBatches<T>(items: T[], size: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

t.test('malformed inputs: one clear error naming the key, non-zero exit, nothing created', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'dvm-malformed-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const pki = await createRunPki({ runId: 'malformed', serverDnsNames: ['localhost'], serverIpAddresses: ['127.0.0.1'], clientIdentities: [IDENTITY] });
  const write = (name: string, text: string): string => {
    const path = join(root, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const ca = write('ca.crt', pki.ca.certPem);
  const serverTls = { ca, cert: write('server.crt', pki.server.certPem), key: write('server.key', pki.server.keyPem) };
  const client = pki.clients[IDENTITY]!;
  const clientTls = { ca, cert: write('client.crt', client.certPem), key: write('client.key', client.keyPem) };
  const source = join(root, 'source');
  mkdirSync(source);
  writeFileSync(join(source, 'file.txt'), 'data\n');
  const aFile = write('a-file', 'not a directory\n');
  const secrets = [...pemSecrets(pki.ca.keyPem), ...pemSecrets(pki.server.keyPem), ...pemSecrets(client.keyPem), PLANTED_PASSWORD];

  const cases = malformedCases();
  t.ok(cases.length >= 50, `the table has at least 50 cases (${cases.length})`);
  const outcomes = new Map<MalformedCase, { outcome: Outcome; caseDir: string }>();
  const processCases = cases.filter((c): c is AgentConfigCase | CliCase => c.kind === 'server' || c.kind === 'client' || c.kind === 'cli');
  let index = 0;

  await inBatches(processCases, CONCURRENCY, async (c) => {
    const caseDir = join(root, `case-${++index}`);
    const caseTmp = join(caseDir, 'tmp');
    mkdirSync(join(caseDir, 'work'), { recursive: true });
    mkdirSync(caseTmp);
    const destination = join(caseDir, 'dst');
    let command: string[];
    if (c.kind === 'cli') {
      const argv = c.argv.map((arg) => arg.replace(/^SRC$/, source).replace(/^DST$/, destination).replace(/^FILE/, aFile));
      command = [process.execPath, DVM_CLI, ...argv];
    } else {
      const base: Record<string, unknown> =
        c.kind === 'server'
          ? {
              listen: '127.0.0.1:0',
              healthListen: '127.0.0.1:0',
              tls: { ...serverTls },
              modules: [{ name: 'data', path: destination, client: IDENTITY }],
              workDir: join(caseDir, 'work'),
            }
          : {
              pvc: 'malformed/pvc',
              server: { host: '127.0.0.1', port: 1, serverName: 'localhost' },
              tls: { ...clientTls },
              module: 'data',
              source,
              settings: { rsync_backoff_limit: 0 },
              terminationLog: join(caseDir, 'result.json'),
              retryBaseMs: 100,
              retryMaxMs: 100,
            };
      const config = structuredClone(base);
      c.mutate?.(config);
      const configPath = c.missingFile ? join(caseDir, 'missing.yaml') : join(caseDir, 'config.json');
      if (!c.missingFile) writeFileSync(configPath, c.fileText ?? JSON.stringify(config), { mode: 0o600 });
      command = [process.execPath, AGENT_MAIN, c.kind, '--config', configPath];
    }
    outcomes.set(c, { outcome: await run(command, { TMPDIR: caseTmp }), caseDir });
  });

  for (const c of processCases) {
    const { outcome, caseDir } = outcomes.get(c)!;
    t.test(`${c.kind}: ${c.name}`, async (t) => {
      const lines = outcome.stderr.split('\n').filter((line) => line.trim().length > 0);
      t.notOk(outcome.timedOut, 'refused the input (did not start working)');
      t.not(outcome.exitCode, 0, `exit code is non-zero (${outcome.exitCode})`);
      t.match(lines[0] ?? '', c.names, `the first error line names the key: ${lines[0]}`);
      t.equal(lines.filter((line) => /^(dvm|dvm-agent|error)\b|Error:/.test(line)).length, 1, 'exactly one error line');
      t.notOk(
        lines.some((line) => /^\s+at /.test(line)),
        'no stack trace',
      );
      t.notOk(/"type":"progress"/.test(outcome.stdout), 'no progress events');
      // A client whose config parsed but cannot start still reports one Failed result (stdout and
      // termination log), so whoever waits for it learns why; a config that does not parse cannot.
      const results = outcome.stdout.split('\n').filter((line) => line.includes('"type":"result"'));
      const reported = existsSync(join(caseDir, 'result.json'));
      if (results.length > 0 || reported) {
        t.equal(c.kind, 'client', 'only a client reports a result');
        t.equal(results.length, 1, 'at most one result event');
        t.match(JSON.parse(results[0] ?? '{}'), { status: 'Failed', attempts: 0 }, 'the result says Failed before any attempt');
        t.ok(reported, 'and the termination log holds it');
      }
      t.same(readdirSync(join(caseDir, 'tmp')), [], 'nothing created in TMPDIR');
      t.same(readdirSync(join(caseDir, 'work')), [], 'nothing created in the work dir');
      t.notOk(existsSync(join(caseDir, 'dst')), 'the destination was not created');
      t.same(leakedSecrets(outcome.stdout + outcome.stderr, secrets), [], 'no secret repeated');
    });
  }

  for (const c of cases) {
    if (c.kind !== 'spec' && c.kind !== 'settings') continue;
    t.test(`${c.kind}: ${c.name}`, async (t) => {
      let error: unknown;
      try {
        if (c.kind === 'spec') parseSpec(c.input);
        else parseSettings(c.input);
      } catch (caught) {
        error = caught;
      }
      t.type(error, ConfigError, 'refused with a ConfigError');
      const message = (error as Error | undefined)?.message ?? '';
      t.match(message, c.names, `the message names the key: ${message}`);
      t.notOk(message.includes('\n'), 'one line');
      t.notOk(message.includes(PLANTED_PASSWORD), 'the proxy password is not repeated');
    });
  }
});
