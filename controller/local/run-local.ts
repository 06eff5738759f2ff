// `dvm migrate --local SRC DST`: the embedded default. The same two agents a cluster migration
// runs, as child processes on loopback, with a throw-away PKI; no cluster anywhere.
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { AgentEvent, ResultEvent } from '../../contract/events.js';
import { agentEventFrom, serverPortFrom, startAgent, type AgentProcess } from './agent-process.js';
import type { LocalMigrationOptions } from './options.js';
import { removeStaleWorkspaces } from './stale-workspaces.js';
import { createLocalWorkspace } from './workspace.js';

export interface LocalMigrationResult {
  result: ResultEvent | null;
  exitCode: number;
}

const SERVER_START_TIMEOUT_MS = 15_000;

export async function runLocalMigration(
  options: LocalMigrationOptions,
  onEvent: (event: AgentEvent) => void,
  signal?: AbortSignal,
  onNotice: (message: string) => void = () => undefined,
): Promise<LocalMigrationResult> {
  for (const dir of removeStaleWorkspaces(tmpdir())) {
    onNotice(`removed ${dir}: the temp directory (keys included) of an earlier local run that was killed`);
  }
  mkdirSync(options.destination, { recursive: true });
  const { listen: _pageListener, ...agentOptions } = options;
  const workspace = await createLocalWorkspace({ ...agentOptions, runId: randomBytes(4).toString('hex') });
  let server: AgentProcess | null = null;
  let client: AgentProcess | null = null;
  const stopAll = (): void => {
    client?.child.kill('SIGTERM');
    server?.child.kill('SIGTERM');
  };
  signal?.addEventListener('abort', stopAll, { once: true });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the server agent did not start listening within ${SERVER_START_TIMEOUT_MS} ms`)),
        SERVER_START_TIMEOUT_MS,
      );
      server = startAgent('server', workspace.serverConfigPath, (line) => {
        const found = serverPortFrom(line);
        if (found !== null) {
          clearTimeout(timer);
          resolve(found);
        }
      });
      if (server.child.pid !== undefined) workspace.recordAgents([server.child.pid]);
      server.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the server agent exited (${code}) before listening: ${server?.stderrTail() ?? ''}`.trim()));
      });
    });
    workspace.writeClientConfig(port);
    if (signal?.aborted) return { result: null, exitCode: 130 };
    let result: ResultEvent | null = null;
    client = startAgent('client', workspace.clientConfigPath, (line) => {
      const event = agentEventFrom(line);
      if (!event) return;
      if (event.type === 'result') result = event;
      onEvent(event);
    });
    workspace.recordAgents([server, client].flatMap((agent) => (agent?.child.pid !== undefined ? [agent.child.pid] : [])));
    const exitCode = await client.exited;
    if (!result && exitCode !== 0) throw new Error(`the client agent failed (${exitCode}): ${client.stderrTail()}`);
    return { result, exitCode };
  } finally {
    signal?.removeEventListener('abort', stopAll);
    stopAll();
    await (server as AgentProcess | null)?.exited;
    workspace.remove();
  }
}
