// Runs rsync under a pseudo-terminal: rsync only writes progress live (unbuffered, \r-updated) when
// its output is a terminal.
import { spawn as spawnPty } from 'node-pty';
import { LineSplitter, parseProgress2Line } from './progress2.js';

export interface RsyncRun {
  exitCode: number;
  /** The last lines rsync printed that were not progress, for error messages. */
  messages: string[];
  /** Every error line rsync printed ("rsync: ..." and "rsync error: ..."), up to MAX_ERRORS. */
  errors: string[];
  /** More error lines than MAX_ERRORS were printed: errors is not the whole story. */
  errorsTruncated: boolean;
}

export interface RunRsyncOptions {
  rsyncPath: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  onLine: (line: string) => void;
  signal?: AbortSignal;
}

const KEPT_MESSAGES = 20;
const MAX_ERRORS = 200;
const ERROR_LINE = /^rsync( error)?: /;

export function runRsync({ rsyncPath, argv, env, onLine, signal }: RunRsyncOptions): Promise<RsyncRun> {
  return new Promise((resolve) => {
    const child = spawnPty(rsyncPath, argv, {
      name: 'dumb',
      cols: 250,
      rows: 40,
      cwd: process.cwd(),
      env: env as Record<string, string>,
    });
    const splitter = new LineSplitter();
    const messages: string[] = [];
    const errors: string[] = [];
    let errorsTruncated = false;
    const take = (line: string): void => {
      onLine(line);
      if (parseProgress2Line(line)) return;
      if (ERROR_LINE.test(line)) {
        if (errors.length < MAX_ERRORS) errors.push(line);
        else errorsTruncated = true;
      }
      messages.push(line);
      if (messages.length > KEPT_MESSAGES) messages.shift();
    };
    child.onData((chunk) => splitter.push(chunk).forEach(take));
    const abort = (): void => child.kill('SIGTERM');
    signal?.addEventListener('abort', abort, { once: true });
    child.onExit(({ exitCode, signal: bySignal }) => {
      splitter.flush().forEach(take);
      signal?.removeEventListener('abort', abort);
      // Killed by a signal: report it the way a shell would (128+n), never as success.
      resolve({ exitCode: bySignal ? 128 + bySignal : exitCode, messages, errors, errorsTruncated });
    });
  });
}
