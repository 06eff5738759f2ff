// CPU time from /proc/<pid>/stat: utime + stime of the process (all threads) plus cutime + cstime of
// the children it has reaped. A long-lived server's per-connection children (rsync) are counted once
// they are reaped, so readers wait for them first (waitForChildrenGone).
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux this runs on (getconf CLK_TCK)

interface ProcStat {
  ppid: number;
  /** Own + reaped children's CPU, in seconds. */
  cpuSeconds: number;
}

/** Fields after "(comm)"; comm may hold spaces or parentheses, so split after the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state) of proc(5): field n is fields[n - 3].
  const at = (n: number) => Number(fields[n - 3]);
  const ticks = at(14) + at(15) + at(16) + at(17);
  return { ppid: at(4), cpuSeconds: ticks / TICKS_PER_SECOND };
}

function readStat(pid: number | 'self'): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // exited
  }
}

/** CPU seconds of this process's reaped children so far (the per-copy client processes). */
export function reapedChildrenCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8');
  const after = fields
    .slice(fields.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  return (Number(after[16 - 3]) + Number(after[17 - 3])) / TICKS_PER_SECOND;
}

export function cpuSeconds(pid: number): number {
  return readStat(pid)?.cpuSeconds ?? 0;
}

export function childPids(parent: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (readStat(Number(name))?.ppid === parent) children.push(Number(name));
  }
  return children;
}

/** Resolves once every child of `parents` not in `baseline` has been reaped (or after timeoutMs). */
export async function waitForChildrenGone(parents: number[], baseline: Set<number>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const extra = parents.flatMap(childPids).filter((pid) => !baseline.has(pid));
    if (extra.length === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
