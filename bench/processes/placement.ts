// Where a charged process runs: its cgroups (CPU accounting, an optional CPU quota) and, with --pin,
// its CPU. Real transfer pods run on two nodes, each with its own CPU; on one machine `--pin` puts
// every client-side process on one CPU and every server-side one on the other. Affinity and cgroup
// membership are inherited on fork, so the per-connection rsync processes, the pty child and
// stunnel's connections land where their parent is.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CommandLine {
  command: string;
  args: string[];
}

export type Side = 'client' | 'server';

const TASKSET = '/usr/bin/taskset';
/** Joins every cgroup directory given before `--`, then becomes the real command: nothing of it
 * runs outside the groups. */
const JOIN_AND_EXEC = 'while [ "$1" != "--" ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"';

/** `command args` run inside `groups` (cgroup directories) and, when `cpu` is set, on that CPU only. */
export function placedCommand(line: CommandLine, groups: string[], cpu: number | undefined): CommandLine {
  const joined =
    groups.length === 0 ? line : { command: '/bin/sh', args: ['-c', JOIN_AND_EXEC, 'dvm-bench-join', ...groups, '--', line.command, ...line.args] };
  // taskset outermost: even the joining shell runs on the side's CPU.
  return cpu === undefined ? joined : { command: TASKSET, args: ['-c', String(cpu), joined.command, ...joined.args] };
}

/** CPUs this process may run on (its own affinity, from /proc/self/status). */
export function allowedCpus(): number[] {
  const line = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  return line
    .split(',')
    .filter(Boolean)
    .flatMap((range) => {
      const [low, high] = range.split('-').map(Number);
      const cpus: number[] = [];
      for (let cpu = low!; cpu <= (high ?? low!); cpu++) cpus.push(cpu);
      return cpus;
    });
}

/** Why --pin cannot run here, or undefined. */
export function pinningUnavailable(cpus: number[]): string | undefined {
  if (!existsSync(TASKSET)) return `${TASKSET} not installed (util-linux)`;
  const allowed = allowedCpus();
  const missing = cpus.filter((cpu) => !allowed.includes(cpu));
  return missing.length > 0 ? `CPU ${missing.join(', ')} not in this process's affinity (${allowed.join(',')})` : undefined;
}

export interface Throttling {
  periods: number;
  throttledPeriods: number;
  throttledSeconds: number;
}

export interface CpuQuota {
  cpus: number;
  groups(transport: string, side: Side): string[];
  throttling(transport: string, side: Side): Throttling;
  dispose(): void;
}

const CPU_ROOT = '/sys/fs/cgroup/cpu';
const PERIOD_US = 100_000;

/** A cgroup v1 `cpu` group per transport and side with a CFS quota of `cpus` CPUs (a pod's CPU
 * limit). Throws with the reason when the cpu controller is not usable here. */
export function createCpuQuota(cpus: number): CpuQuota {
  if (!existsSync(join(CPU_ROOT, 'cpu.cfs_quota_us'))) throw new Error(`${CPU_ROOT}: no cgroup v1 cpu controller (cpu.cfs_quota_us)`);
  const root = join(CPU_ROOT, `dvm-bench-${process.pid}`);
  const made = new Set<string>();
  try {
    mkdirSync(root);
  } catch (error) {
    throw new Error(`cannot make ${root}: ${(error as Error).message}`);
  }
  made.add(root);
  const group = (transport: string, side: Side) => {
    const dir = join(root, `${transport}-${side}`);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(cpus * PERIOD_US)));
    }
    return dir;
  };
  return {
    cpus,
    groups: (transport, side) => [group(transport, side)],
    throttling(transport, side) {
      const stat = Object.fromEntries(
        readFileSync(join(group(transport, side), 'cpu.stat'), 'utf8')
          .trim()
          .split('\n')
          .map((line) => line.split(/\s+/))
          .map(([key, value]) => [key, Number(value)]),
      );
      return { periods: stat.nr_periods ?? 0, throttledPeriods: stat.nr_throttled ?? 0, throttledSeconds: (stat.throttled_time ?? 0) / 1e9 };
    },
    dispose() {
      // Children first; a group with a straggler inside stays (and is harmless).
      for (const dir of [...made].reverse()) {
        try {
          rmdirSync(dir);
        } catch {
          /* not empty yet */
        }
      }
    },
  };
}
