// Runs one client command (an rsync client, an agent client) to its end. Output goes to a log file
// through a file descriptor, not a pipe we read: the timed process never waits on the benchmark.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { trackChild } from './service.js';

export interface CommandSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  logFile: string;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
}

export async function runToEnd(spec: CommandSpec): Promise<void> {
  const fd = openSync(spec.logFile, 'w');
  try {
    const child = spawn(spec.command, spec.args, { env: spec.env ?? process.env, stdio: ['ignore', fd, fd] });
    trackChild(child);
    const code = await new Promise<number | string>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode, signal) => resolve(signal ?? exitCode ?? -1));
    });
    if (code !== 0) {
      throw new Error(`${spec.command} ${spec.args.join(' ')} ended with ${code}; log ${spec.logFile}:\n${tail(spec.logFile)}`);
    }
  } finally {
    closeSync(fd);
  }
}
