// What the figures were measured on: they mean little without the machine and how busy it was.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
  rsync: string;
  stunnel: string;
  loadAverage1m: { atStart: number; atEnd: number };
}

/** The first output line matching `pattern` (stunnel4 -version starts with an unrelated line). */
function firstLine(command: string, args: string[], pattern = /\S/): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return (
    `${result.stdout ?? ''}${result.stderr ?? ''}`
      .split('\n')
      .find((l) => pattern.test(l))
      ?.trim() ?? 'unknown'
  );
}

export function currentLoad(): number {
  return loadavg()[0] ?? 0;
}

export function describeMachine(loadAtStart: number): MachineInfo {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    rsync: firstLine('rsync', ['--version']),
    stunnel: firstLine('stunnel4', ['-version'], /^stunnel \d/),
    loadAverage1m: { atStart: loadAtStart, atEnd: currentLoad() },
  };
}
