// The fault suite's rig: the real dvm-agent (dist/agent/dvm-agent.js) with the server on the dst host and
// the client on the src host of a namespace topology, optionally with tinyproxy (BasicAuth) on the
// proxy host as the only way across. Captures every line each process prints, so scenarios can
// check events and grep for secrets.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { clientConfigSchema, serverConfigSchema, type ClientConfig, type ServerConfig } from '../../../contract/agent-config.js';
import { isAgentEvent, type AgentEvent, type ProgressEvent, type ResultEvent } from '../../../contract/events.js';
import { pvcIdentity } from '../../../contract/identity.js';
import { createRunPki, type PemPair, type RunPki } from '../../../controller/pki/pki.js';
import { AGENT_MAIN as BUILT_AGENT } from '../../support/agent-process.js';
import { createTopology, type Topology } from '../../support/netns.js';
import { startTinyproxy, type Tinyproxy } from '../../support/tinyproxy.js';
import { killTree, waitFor } from './processes.js';

/** DVM_AGENT_MAIN runs the suite against another build of the agent (e.g. a candidate fix). */
export const AGENT_MAIN = process.env.DVM_AGENT_MAIN ?? BUILT_AGENT;
export const SERVER_NAME = 'dvm-server.faults.test';
export const SERVER_PORT = 2222;
export const HEALTH_PORT = 8080;
export const MODULE = 'data';
export const CLIENT_IDENTITY = pvcIdentity('faults', MODULE);

export interface FaultRigOptions {
  /** tinyproxy with BasicAuth on the proxy host, and no other route from src to dst. */
  proxy?: boolean;
  /** 'userspace' when the scenario needs loss/delay and the kernel has no netem. */
  srcLink?: 'veth' | 'userspace';
}

export interface NsServer {
  readonly pid: number | undefined;
  logLines: Record<string, unknown>[];
  /** Sum of a metric's series, optionally only those whose labels contain `labelFilter`. */
  metric(name: string, labelFilter?: string): Promise<number>;
  /** Kills the agent and everything it started. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the same server again (same config, same port). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface NsClient {
  child: ChildProcess;
  events: AgentEvent[];
  stdout: string[];
  stderr: string[];
  done: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; result: ResultEvent | undefined }>;
  progress(): ProgressEvent[];
  /** Bytes of the last progress event. */
  bytes(): number;
  kill(signal?: NodeJS.Signals): void;
}

export interface FaultRig {
  topo: Topology;
  dir: string;
  pki: RunPki;
  proxy: Tinyproxy | undefined;
  proxyPassword: string | undefined;
  /** PEM files of the run (ca cert, server and client pairs). */
  files: { ca: string; server: { cert: string; key: string }; client: { cert: string; key: string } };
  writePair(name: string, pair: PemPair): { cert: string; key: string };
  startServer(destination: string, overrides?: Partial<ServerConfig>): Promise<NsServer>;
  clientConfig(source: string, destination: string, overrides?: Record<string, unknown>, settings?: Record<string, unknown>): ClientConfig;
  startClient(config: ClientConfig, env?: NodeJS.ProcessEnv): NsClient;
  /** An RSYNC_CONNECT_PROG that opens the client's mutual-TLS tunnel with openssl s_client, to run
   * rsync by hand with the client's own certificate. */
  tunnelConnectProgram(config: ClientConfig): string;
  /** Bytes the src host has sent on its link so far (what crossed the wire, TLS and TCP included). */
  srcTxBytes(): Promise<number>;
  /** Every line any agent printed so far, plus termination logs. */
  capturedOutput(): string;
  /** Strings that must never appear in output: key material and the proxy password. */
  secrets(): string[];
  cleanup(): Promise<void>;
}

/** Lines of a PEM body long enough to be unmistakable, and the whole body joined. */
export function pemSecrets(pem: string): string[] {
  const body = pem.split('\n').filter((line) => line && !line.startsWith('-----'));
  return [body.join(''), ...body.filter((line) => line.length >= 24)];
}

export async function createFaultRig(options: FaultRigOptions = {}): Promise<FaultRig> {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-faults-'));
  const topo = await createTopology({ route: options.proxy ? 'proxy-only' : 'routed', srcLink: options.srcLink ?? 'veth' });
  const pki = await createRunPki({
    runId: `faults-${topo.id}`,
    serverDnsNames: [SERVER_NAME],
    serverIpAddresses: [topo.addresses.dst],
    clientIdentities: [CLIENT_IDENTITY],
  });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const ca = write('ca.crt', pki.ca.certPem);
  const writePair = (name: string, pair: PemPair) => ({ cert: write(`${name}.crt`, pair.certPem), key: write(`${name}.key`, pair.keyPem) });
  const files = { ca, server: writePair('server', pki.server), client: writePair('client', pki.clients[CLIENT_IDENTITY] as PemPair) };
  const extraSecrets: string[] = [];
  // Agents' own temp dirs go here: a SIGKILLed agent cannot remove its own, cleanup() does.
  const agentTmp = join(dir, 'tmp');
  mkdirSync(agentTmp);

  let proxy: Tinyproxy | undefined;
  let proxyPassword: string | undefined;
  if (options.proxy) {
    proxyPassword = `pw-${randomBytes(9).toString('base64url')}`;
    proxy = await startTinyproxy({
      netns: topo.proxy,
      listen: topo.addresses.proxyFromSrc,
      allow: [topo.subnets.srcProxy],
      user: 'dvm',
      password: proxyPassword,
    });
    extraSecrets.push(proxyPassword, Buffer.from(`dvm:${proxyPassword}`).toString('base64'));
  }

  const captured: string[] = [];
  const terminationLogs: string[] = [];
  const children = new Set<ChildProcess>();
  let configs = 0;

  const collect = (child: ChildProcess, onStdout: (line: string) => void, onStderr: (line: string) => void): void => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      captured.push(line);
      onStdout(line);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      captured.push(line);
      onStderr(line);
    });
  };

  const fetchInDst = async (path: string): Promise<string> => {
    const script = `fetch('http://127.0.0.1:${HEALTH_PORT}${path}').then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { process.stderr.write(String(e)); process.exit(1); })`;
    const result = await topo.exec(topo.dst, process.execPath, ['-e', script], { timeoutMs: 10_000 });
    if (result.code !== 0) throw new Error(`GET ${path} on the server's health port failed: ${result.stderr.trim()}`);
    return result.stdout;
  };

  return {
    topo,
    dir,
    pki,
    proxy,
    proxyPassword,
    files,
    writePair,

    async startServer(destination, overrides = {}) {
      mkdirSync(destination, { recursive: true });
      const config = serverConfigSchema.parse({
        listen: `0.0.0.0:${SERVER_PORT}`,
        healthListen: `127.0.0.1:${HEALTH_PORT}`,
        tls: { ca, ...files.server },
        modules: [{ name: MODULE, path: destination, client: CLIENT_IDENTITY }],
        workDir: dir,
        handshakeTimeoutMs: 3_000,
        firstByteTimeoutMs: 3_000,
        ...overrides,
      });
      const path = write(`server-${++configs}.json`, JSON.stringify(config));
      let child: ChildProcess | undefined;
      const logLines: Record<string, unknown>[] = [];
      const start = async (): Promise<void> => {
        const current = topo.spawn(topo.dst, process.execPath, [AGENT_MAIN, 'server', '--config', path], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, TMPDIR: agentTmp },
        });
        child = current;
        children.add(current);
        let listening = false;
        const stderrTail: string[] = [];
        collect(
          current,
          (line) => {
            try {
              const entry = JSON.parse(line) as Record<string, unknown>;
              logLines.push(entry);
              if (entry.msg === 'listening') listening = true;
            } catch {
              /* not a log line */
            }
          },
          (line) => stderrTail.push(line),
        );
        await waitFor(
          () => {
            if (current.exitCode !== null) throw new Error(`server agent exited ${current.exitCode}: ${stderrTail.join(' | ')}`);
            return listening;
          },
          15_000,
          'the server agent to listen',
        );
      };
      await start();
      const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
        const current = child;
        if (!current?.pid || current.exitCode !== null || current.signalCode !== null) return;
        const exited = new Promise((r) => current.once('exit', r));
        if (signal === 'SIGKILL') killTree(current.pid, 'SIGKILL');
        else current.kill(signal);
        await exited;
      };
      return {
        get pid() {
          return child?.pid;
        },
        logLines,
        async metric(name, labelFilter) {
          const text = await fetchInDst('/metrics');
          let sum = 0;
          for (const line of text.split('\n')) {
            if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
            if (labelFilter && !line.includes(labelFilter)) continue;
            sum += Number(line.split(' ').pop());
          }
          return sum;
        },
        kill,
        start,
        stop: () => kill('SIGTERM'),
      };
    },

    clientConfig(source, destination, overrides = {}, settings = {}) {
      return clientConfigSchema.parse({
        pvc: 'faults/pvc',
        server: { host: topo.addresses.dst, port: SERVER_PORT, serverName: SERVER_NAME },
        tls: { ca, ...files.client },
        module: MODULE,
        source,
        settings: { ...(proxy ? { stunnel_tcp_proxy: proxy.url } : {}), ...settings },
        terminationLog: join(dir, `result-${++configs}.json`),
        progressIntervalMs: 250,
        retryBaseMs: 500,
        retryMaxMs: 3000,
        ...overrides,
      });
    },

    tunnelConnectProgram: ({ server, tls }) =>
      [
        'openssl s_client -quiet -tls1_3 -verify_return_error',
        `-connect ${server.host}:${server.port} -servername ${server.serverName}`,
        `-CAfile ${tls.ca} -cert ${tls.cert} -key ${tls.key}`,
      ].join(' '),

    startClient(config, env = {}) {
      const path = write(`client-${++configs}.json`, JSON.stringify(config));
      terminationLogs.push(config.terminationLog);
      const child = topo.spawn(topo.src, process.execPath, [AGENT_MAIN, 'client', '--config', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TMPDIR: agentTmp, ...env },
      });
      children.add(child);
      const events: AgentEvent[] = [];
      const stdout: string[] = [];
      const stderr: string[] = [];
      collect(
        child,
        (line) => {
          stdout.push(line);
          try {
            const value: unknown = JSON.parse(line);
            if (isAgentEvent(value)) events.push(value);
          } catch {
            /* not an event */
          }
        },
        (line) => stderr.push(line),
      );
      const done = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; result: ResultEvent | undefined }>((resolveDone) => {
        child.once('close', (exitCode, signal) =>
          resolveDone({
            exitCode,
            signal,
            result: events.find((event): event is ResultEvent => event.type === 'result'),
          }),
        );
      });
      const progress = (): ProgressEvent[] => events.filter((e): e is ProgressEvent => e.type === 'progress');
      return {
        child,
        events,
        stdout,
        stderr,
        done,
        progress,
        bytes: () => progress().at(-1)?.bytes ?? 0,
        kill: (signal = 'SIGKILL') => {
          if (child.pid && child.exitCode === null) killTree(child.pid, signal);
        },
      };
    },

    srcTxBytes: () => topo.txBytes(topo.links.srcProxy.a),

    capturedOutput() {
      const logs = terminationLogs.map((file) => {
        try {
          return readFileSync(file, 'utf8');
        } catch {
          return '';
        }
      });
      return [...captured, ...logs].join('\n');
    },

    secrets() {
      return [
        ...pemSecrets(pki.ca.keyPem),
        ...pemSecrets(pki.server.keyPem),
        ...Object.values(pki.clients).flatMap((pair) => pemSecrets(pair.keyPem)),
        ...extraSecrets,
      ];
    },

    async cleanup() {
      for (const child of children) if (child.pid && child.exitCode === null && child.signalCode === null) killTree(child.pid, 'SIGKILL');
      await proxy?.stop();
      await topo.teardown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
