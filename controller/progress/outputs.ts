// Everything a migration command shows of its progress, set up in one place for `migrate --local`
// and `migrate -f`: the terminal view of a run's aggregate (JSON on stdout, bars or lines on stderr)
// and, with --listen, the page/websocket/metrics listener. The aggregate is the run's own (a
// MigrationHandle's `progress`, or local mode's), not made here.
import type { ProgressAggregate } from './aggregate.js';
import { startProgressServer, type ProgressServer } from './server.js';
import { startProgressView } from './view.js';

export interface ProgressOutputOptions {
  json?: boolean;
  listen?: string;
  token?: string;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface ProgressOutputs {
  /** Stops the view and closes the listener (idempotent). */
  stop(): Promise<void>;
}

export async function startProgressOutputs(aggregate: ProgressAggregate, options: ProgressOutputOptions): Promise<ProgressOutputs> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  // Machines read stdout; people read the bars or lines on stderr.
  const view = startProgressView(aggregate, options.json ? { mode: 'json', stream: stdout } : { mode: 'auto', stream: stderr });
  let server: ProgressServer | null = null;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    view.stop();
    await server?.close();
  };
  if (options.listen) {
    try {
      server = await startProgressServer({ listen: options.listen, aggregate, ...(options.token ? { token: options.token } : {}) });
    } catch (error) {
      await stop();
      throw error;
    }
    stderr.write(`progress: ${server.url}\n`);
  }
  return { stop };
}
