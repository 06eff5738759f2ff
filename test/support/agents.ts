// Runs the real dvm-agent (dist/agent/main.js) as child processes for tests: a per-test PKI, config
// files, a server with its JSON log and metrics, and clients with their events.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { clientConfigSchema, serverConfigSchema, type ClientConfig, type ServerConfig } from '../../contract/agent-config.js';
import { isAgentEvent, type AgentEvent, type ResultEvent } from '../../contract/events.js';
import { pvcIdentity } from '../../contract/identity.js';
import { createRunPki, type PemPair, type RunPki } from '../../controller/pki/pki.js';

export const AGENT_MAIN = resolve(import.meta.dirname, '../../dist/agent/main.js');
const MODULE = 'data';
/** The identity of the rig's one client certificate; every module of a rig server serves it. */
export const TEST_IDENTITY = pvcIdentity('test', MODULE);

export interface Rig {
  dir: string;
  pki: RunPki;
  /** Writes PEMs to files and returns their paths. */
  writePair(name: string, pair: PemPair): { cert: string; key: string };
  startServer(destination: string, overrides?: Partial<ServerConfig>, runAs?: { uid: number; gid: number }): Promise<ServerAgent>;
  clientConfig(server: { port: number; destination: string; runAsUid?: number }, source: string, overrides?: Partial<ClientConfig>): ClientConfig;
  startClient(config: ClientConfig, env?: NodeJS.ProcessEnv): ClientAgent;
  cleanup(): void;
}

export interface ServerAgent {
  port: number;
  healthPort: number;
  child: ChildProcess;
  logLines: Record<string, unknown>[];
  metric(name: string, labels?: string): Promise<number>;
  stop(): Promise<void>;
}

export interface ClientAgent {
  child: ChildProcess;
  events: AgentEvent[];
  stdoutLines: string[];
  stderr: string[];
  done: Promise<{ exitCode: number; result: ResultEvent | undefined }>;
}

export async function createRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-test-'));
  const pki = await createRunPki({ runId: 'test', serverDnsNames: ['localhost', 'dvm-server.test'], serverIpAddresses: ['127.0.0.1'], clientIdentities: [TEST_IDENTITY] });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const ca = write('ca.crt', pki.ca.certPem);
  const writePair = (name: string, pair: PemPair) => ({ cert: write(`${name}.crt`, pair.certPem), key: write(`${name}.key`, pair.keyPem) });
  const serverTls = { ca, ...writePair('server', pki.server) };
  const clientTls = { ca, ...writePair('client', pki.clients[TEST_IDENTITY] as PemPair) };
  const children: ChildProcess[] = [];
  let configs = 0;

  return {
    dir,
    pki,
    writePair,
    async startServer(destination, overrides = {}, runAs) {
      const config = serverConfigSchema.parse({
        listen: '127.0.0.1:0',
        healthListen: '127.0.0.1:0',
        tls: serverTls,
        modules: [{ name: MODULE, path: destination, client: TEST_IDENTITY }],
        workDir: dir,
        ...overrides,
      });
      const path = write(`server-${++configs}.json`, JSON.stringify(config));
      if (runAs) chownSync(path, runAs.uid, runAs.gid);
      const child = spawn(process.execPath, [AGENT_MAIN, 'server', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'], ...runAs });
      children.push(child);
      const logLines: Record<string, unknown>[] = [];
      const ports = await new Promise<{ port: number; healthPort: number }>((resolvePorts, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          try {
            const entry = JSON.parse(line) as Record<string, unknown>;
            logLines.push(entry);
            if (entry.msg === 'listening') resolvePorts({ port: entry.port as number, healthPort: entry.healthPort as number });
          } catch { /* not a log line */ }
        });
        child.once('exit', (code) => reject(new Error(`server agent exited ${code}`)));
      });
      return {
        ...ports,
        child,
        logLines,
        async metric(name, labels = '') {
          const text = await (await fetch(`http://127.0.0.1:${ports.healthPort}/metrics`)).text();
          const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
          return line ? Number(line.split(' ').pop()) : 0;
        },
        stop: () => stopChild(child),
      };
    },
    clientConfig(server, source, overrides = {}) {
      return clientConfigSchema.parse({
        pvc: 'test/pvc',
        server: { host: '127.0.0.1', port: server.port, serverName: 'localhost' },
        tls: clientTls,
        module: MODULE,
        source,
        terminationLog: join(dir, `result-${++configs}.json`),
        retryBaseMs: 200,
        retryMaxMs: 1000,
        ...overrides,
      });
    },
    startClient(config, env = {}) {
      const path = write(`client-${++configs}.json`, JSON.stringify(config));
      const child = spawn(process.execPath, [AGENT_MAIN, 'client', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
      children.push(child);
      const events: AgentEvent[] = [];
      const stdoutLines: string[] = [];
      const stderr: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => {
        stdoutLines.push(line);
        try {
          const value: unknown = JSON.parse(line);
          if (isAgentEvent(value)) events.push(value);
        } catch { /* not an event */ }
      });
      createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
      const done = new Promise<{ exitCode: number; result: ResultEvent | undefined }>((resolveDone) => {
        child.once('close', (code, signal) => resolveDone({
          exitCode: code ?? (signal ? 128 : 1),
          result: events.find((event): event is ResultEvent => event.type === 'result'),
        }));
      });
      return { child, events, stdoutLines, stderr, done };
    },
    cleanup() {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    child.once('exit', () => resolveStop());
    child.kill('SIGTERM');
  });
}
