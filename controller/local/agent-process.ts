// A dvm-agent child process on this machine: the local stand-in for a transfer pod.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AGENT_BUNDLE_FILE, AGENT_NODE_FLAGS } from '../../contract/node-flags.js';
import { isAgentEvent, type AgentEvent } from '../../contract/events.js';

/** The agent bundled into one file (agent/bundle.sh), as the image runs it. */
const AGENT_MAIN = fileURLToPath(new URL(`../../agent/${AGENT_BUNDLE_FILE}`, import.meta.url));
/** The agent's end of a pipe only this process holds the other end of: when we die, however we die
 * (kill -9 too), the agent reads end of file and stops (dvm-agent --parent-pipe). */
const PARENT_PIPE_FD = 3;
/** Where `dvm migrate --local` reads secrets from; the agents get them from their config files only. */
export const SECRET_ENV = ['DVM_PROXY', 'DVM_TOKEN'] as const;

/** Our environment without the secrets meant for the controller. */
export function agentEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SECRET_ENV) delete copy[name];
  return copy;
}

export interface AgentProcess {
  child: ChildProcess;
  exited: Promise<number>;
  /** Last lines of stderr, for an error message when the agent dies early. */
  stderrTail(): string;
}

export function startAgent(role: 'server' | 'client', configPath: string, onLine: (value: unknown) => void): AgentProcess {
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_MAIN, role, '--config', configPath, '--parent-pipe', String(PARENT_PIPE_FD)], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: agentEnv(),
  });
  const tail: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      onLine(JSON.parse(line));
    } catch {
      // Not JSON: nothing an agent promises on stdout, so nothing to act on.
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  });
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
  return { child, exited, stderrTail: () => tail.join('\n') };
}

/** Resolves with the server's port once it logs that it is listening. */
export function serverPortFrom(value: unknown): number | null {
  const line = value as { msg?: unknown; port?: unknown };
  return line.msg === 'listening' && typeof line.port === 'number' ? line.port : null;
}

export function agentEventFrom(value: unknown): AgentEvent | null {
  return isAgentEvent(value) ? value : null;
}
