// A long-lived process the benchmark starts (rsync daemon, stunnel, an agent server): started, waited
// for until ready, and stopped by its own pid. Every service is remembered so an interrupted run
// still stops what it started, and nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { connect } from 'node:net';

export type Readiness = { kind: 'log'; pattern: RegExp } | { kind: 'tcp'; port: number };

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** stdout + stderr go here (append). */
  logFile: string;
  ready: Readiness;
  readyTimeoutMs?: number;
}

export interface Service {
  name: string;
  pid: number;
  /** Everything the service printed so far (bounded), for readiness matches and error messages. */
  output(): string;
  /** The first capture group of `pattern` in the output, once it has appeared. */
  match(pattern: RegExp): string | undefined;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const OUTPUT_LIMIT = 64 * 1024;

/** Remembers a child the benchmark started (a service, a client run) until it exits, so an
 * interrupt stops it too: a client left running keeps its cgroups and the tmpfs busy. */
export function trackChild(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** Stops every service and client still running (signal handlers, failures); resolves once they
 * have exited (SIGKILL after `graceMs`). */
export async function stopAllServices(graceMs = 3000): Promise<void> {
  const children = [...running].filter((child) => child.exitCode === null && child.signalCode === null);
  const exited = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      }),
  );
  for (const child of children) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
  }, graceMs);
  await Promise.all(exited);
  clearTimeout(timer);
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function startService(spec: ServiceSpec): Promise<Service> {
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  const child = spawn(spec.command, spec.args, { env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let output = '';
  const capture = (chunk: Buffer) => {
    log.write(chunk);
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  let exited: string | undefined;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    }),
  );
  child.once('error', (error) => {
    exited = `failed to start: ${error.message}`;
  });

  const describe = () => `${spec.name} (${spec.command} ${spec.args.join(' ')})`;
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (exited) throw new Error(`${describe()} ${exited} before it was ready; output:\n${output.slice(-2000)}`);
    const ready = spec.ready.kind === 'log' ? spec.ready.pattern.test(output) : await tcpAccepts(spec.ready.port);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${describe()} not ready after ${spec.readyTimeoutMs ?? 15_000} ms; output:\n${output.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (child.pid === undefined) throw new Error(`${describe()} has no pid`);

  return {
    name: spec.name,
    pid: child.pid,
    output: () => output,
    match: (pattern) => pattern.exec(output)?.[1],
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exitedPromise;
        clearTimeout(timer);
      }
      await new Promise((resolve) => log.end(resolve));
    },
  };
}
