// The real dvm-agent (dist/agent/dvm-agent.js) as a child process, for the test rigs of file copies
// (agents.ts) and block copies (block-rig.ts): a server found listening through its JSON log, with
// its metrics; a client with its events and its result.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { isAgentEvent, type AgentEvent, type ResultEvent } from '../../contract/events.js';
import { AGENT_BUNDLE_FILE, AGENT_NODE_FLAGS } from '../../contract/node-flags.js';
import { userNodeCommand } from './user-node.js';

/** The agent as pods and local mode run it: bundled into one file by `make build` (agent/bundle.sh). */
export const AGENT_MAIN = resolve(import.meta.dirname, '../../dist/agent', AGENT_BUNDLE_FILE);

export interface ServerAgent {
  port: number;
  healthPort: number;
  child: ChildProcess;
  logLines: Record<string, unknown>[];
  /** A metric's value; `labels` as Prometheus prints them, e.g. 'reason="target-too-small"'. */
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

/** Agent processes a rig started, so that its cleanup can kill what is left. */
export type ChildList = ChildProcess[];

function spawnAgent(children: ChildList, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(...userNodeCommand(AGENT_MAIN, args, AGENT_NODE_FLAGS), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.push(child);
  return child;
}

/** `dvm-agent <command> --config FILE` for a server; resolves once its log says it is listening. */
export async function startServerAgent(children: ChildList, args: string[], options: SpawnOptions = {}): Promise<ServerAgent> {
  const child = spawnAgent(children, args, options);
  const logLines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const ports = await new Promise<{ port: number; healthPort: number }>((resolvePorts, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logLines.push(entry);
        if (entry.msg === 'listening') resolvePorts({ port: entry.port as number, healthPort: entry.healthPort as number });
      } catch {
        /* not a log line */
      }
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} agent exited ${code}: ${stderr.join(' | ')}`)));
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
}

/** `dvm-agent <command> --config FILE` for a client: its events as they come, and how it ended. */
export function startClientAgent(children: ChildList, args: string[], env: NodeJS.ProcessEnv = {}): ClientAgent {
  const child = spawnAgent(children, args, { env: { ...process.env, ...env } });
  const events: AgentEvent[] = [];
  const stdoutLines: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    stdoutLines.push(line);
    try {
      const value: unknown = JSON.parse(line);
      if (isAgentEvent(value)) events.push(value);
    } catch {
      /* not an event */
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const done = new Promise<{ exitCode: number; result: ResultEvent | undefined }>((resolveDone) => {
    child.once('close', (code, signal) =>
      resolveDone({
        exitCode: code ?? (signal ? 128 : 1),
        result: events.find((event): event is ResultEvent => event.type === 'result'),
      }),
    );
  });
  return { child, events, stdoutLines, stderr, done };
}

export function killAll(children: ChildList): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    child.once('exit', () => resolveStop());
    child.kill('SIGTERM');
  });
}
