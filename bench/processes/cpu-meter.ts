// CPU time per transport and side (client/server). Two ways, best first:
//  - cgroup: every process of a side starts inside its own cpuacct cgroup (a shell wrapper joins it,
//    then execs: processes/placement.ts), so helpers that outlive or escape their parent (rsync's RSYNC_CONNECT_PROG child
//    is never reaped by rsync) are still counted. Needs a writable cgroup v1 cpuacct hierarchy.
//  - proc: /proc/<pid>/stat of the long-lived processes plus what this process has reaped; orphaned
//    helpers are missed, so connect-program CPU is undercounted.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChargedProcess } from '../transport.js';
import { childPids, cpuSeconds, reapedChildrenCpuSeconds, waitForChildrenGone } from './proc-cpu.js';

export type Side = ChargedProcess['side'];

export type { CommandLine } from './placement.js';

export interface CpuMeter {
  kind: 'cgroup' | 'proc';
  /** The cgroup directories a process of this transport's side must join before it execs (none
   * for the /proc meter). */
  groups(transport: string, side: Side): string[];
  /** Marks the processes alive now (daemons) so settle() knows which ones to wait for. */
  snapshot(transport: string, processes: ChargedProcess[]): Set<number>;
  /** Waits until the per-copy processes (per-connection rsync, helpers) are gone. */
  settle(transport: string, processes: ChargedProcess[], baseline: Set<number>): Promise<void>;
  /** Cumulative CPU seconds of the side so far. */
  read(transport: string, side: Side, processes: ChargedProcess[]): number;
  /** Cumulative CPU seconds of the side per CPU (cgroup meter only): shows where it ran. */
  perCpu(transport: string, side: Side): number[] | undefined;
  dispose(): void;
}

const CPUACCT_ROOT = '/sys/fs/cgroup/cpuacct';

function cgroupMeter(root: string): CpuMeter {
  const groups = new Set<string>();
  const group = (transport: string, side: Side) => {
    const dir = join(root, `${transport}-${side}`);
    if (!groups.has(dir)) {
      mkdirSync(dir, { recursive: true });
      groups.add(dir);
    }
    return dir;
  };
  const procs = (transport: string) =>
    (['client', 'server'] as const).flatMap((side) =>
      readFileSync(join(group(transport, side), 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number),
    );
  return {
    kind: 'cgroup',
    groups: (transport, side) => [group(transport, side)],
    snapshot: (transport) => new Set(procs(transport)),
    async settle(transport, _processes, baseline) {
      const deadline = Date.now() + 10_000;
      while (procs(transport).some((pid) => !baseline.has(pid)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    read: (transport, side) => Number(readFileSync(join(group(transport, side), 'cpuacct.usage'), 'utf8')) / 1e9,
    perCpu: (transport, side) =>
      readFileSync(join(group(transport, side), 'cpuacct.usage_percpu'), 'utf8')
        .trim()
        .split(/\s+/)
        .map((ns) => Number(ns) / 1e9),
    dispose() {
      for (const dir of groups) {
        try {
          rmdirSync(dir);
        } catch {
          /* a straggler still inside */
        }
      }
      try {
        rmdirSync(root);
      } catch {
        /* idem */
      }
    },
  };
}

function procMeter(): CpuMeter {
  return {
    kind: 'proc',
    groups: () => [],
    snapshot: (_transport, processes) => new Set(processes.flatMap((p) => childPids(p.pid))),
    async settle(_transport, processes, baseline) {
      await waitForChildrenGone(
        processes.map((p) => p.pid),
        baseline,
      );
    },
    read(_transport, side, processes) {
      const own = processes.filter((p) => p.side === side).reduce((sum, p) => sum + cpuSeconds(p.pid), 0);
      // Per-copy client processes are this process's children, charged once reaped.
      return side === 'client' ? own + reapedChildrenCpuSeconds() : own;
    },
    perCpu: () => undefined,
    dispose: () => undefined,
  };
}

/** A cgroup meter when this machine lets us make cpuacct groups, else the /proc one. */
export function createCpuMeter(): CpuMeter {
  const root = join(CPUACCT_ROOT, `dvm-bench-${process.pid}`);
  try {
    if (!existsSync(join(CPUACCT_ROOT, 'cpuacct.usage'))) return procMeter();
    mkdirSync(root);
    accessSync(join(root, 'cgroup.procs'), constants.W_OK);
    return cgroupMeter(root);
  } catch {
    try {
      rmdirSync(root);
    } catch {
      /* not made */
    }
    return procMeter();
  }
}
