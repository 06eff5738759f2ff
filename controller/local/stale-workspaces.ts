// Temp directories of earlier `dvm migrate --local` runs that were killed before they could remove
// their own (kill -9, a crash, a power cut): each holds a CA and the agents' keys. A run records who
// it is in owner.json (pid, the kernel's start time of that pid, the boot); the next run removes a
// directory only when all of this holds: the name is ours, it is a real directory (not a symlink)
// of our uid with mode 0700, its owner.json is a regular file of ours in our format, and the run and
// every agent it recorded are provably gone (another boot, or no process with that pid and start
// time). Anything else is left alone.
import { lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export const WORKSPACE_PREFIX = 'dvm-local-';
const WORKSPACE_NAME = /^dvm-local-[A-Za-z0-9]{6}$/;
export const OWNER_FILE = 'owner.json';
const OWNER_FORMAT = 'dvm-local-workspace/1';
const MAX_OWNER_BYTES = 4096;

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks since boot when the process started. */
  start: number;
}

export interface OwnerRecord {
  format: typeof OWNER_FORMAT;
  boot: string;
  run: ProcessIdentity;
  agents: ProcessIdentity[];
}

function readProcStat(pid: number): { state: string; start: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields after the last ")".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isFinite(start) ? { state: fields[0] ?? '', start } : null;
}

/** This pid's identity, or null without /proc (then no directory is ever judged stale). */
export function processIdentity(pid: number): ProcessIdentity | null {
  const stat = readProcStat(pid);
  return stat ? { pid, start: stat.start } : null;
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return null;
  }
}

/** Whether the process is provably gone: no such pid, a zombie, or another process under its pid. */
function gone(identity: ProcessIdentity): boolean {
  const stat = readProcStat(identity.pid);
  return stat === null || stat.state === 'Z' || stat.state === 'X' || stat.start !== identity.start;
}

function isProcessIdentity(value: unknown): value is ProcessIdentity {
  const v = value as ProcessIdentity;
  return typeof v === 'object' && v !== null && Number.isInteger(v.pid) && v.pid > 0 && Number.isInteger(v.start) && v.start >= 0;
}

function parseOwner(text: string): OwnerRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const record = value as OwnerRecord;
  if (typeof record !== 'object' || record === null || record.format !== OWNER_FORMAT || typeof record.boot !== 'string') return null;
  if (!isProcessIdentity(record.run) || !Array.isArray(record.agents) || !record.agents.every(isProcessIdentity)) return null;
  return record;
}

/** Writes (or rewrites, with the agents once they run) the directory's owner record. Without /proc
 * nothing is written, and no directory is ever judged stale. */
export function writeOwnerRecord(dir: string, agents: readonly number[] = []): void {
  const run = processIdentity(process.pid);
  const boot = bootId();
  if (!run || boot === null) return;
  const record: OwnerRecord = {
    format: OWNER_FORMAT,
    boot,
    run,
    agents: agents.map((pid) => processIdentity(pid)).filter((identity): identity is ProcessIdentity => identity !== null),
  };
  // Replaced whole (rename), so a run killed while writing it never leaves a torn record behind.
  const next = join(dir, `${OWNER_FILE}.next`);
  writeFileSync(next, JSON.stringify(record), { mode: 0o600 });
  renameSync(next, join(dir, OWNER_FILE));
}

function ownedByUs(stat: Stats): boolean {
  return stat.uid === (process.geteuid?.() ?? -1);
}

/** Why the directory is not one to remove, or null when it is ours and stale. */
export function whyNotStale(dir: string): string | null {
  const stat = lstatSync(dir, { throwIfNoEntry: false });
  if (!stat) return 'gone';
  if (!stat.isDirectory()) return 'not a directory (a symlink?)';
  if (!ownedByUs(stat)) return `owned by uid ${stat.uid}`;
  if ((stat.mode & 0o777) !== 0o700) return `mode ${(stat.mode & 0o777).toString(8)}, not 700`;
  const ownerPath = join(dir, OWNER_FILE);
  const ownerStat = lstatSync(ownerPath, { throwIfNoEntry: false });
  if (!ownerStat?.isFile() || !ownedByUs(ownerStat) || ownerStat.size > MAX_OWNER_BYTES) return 'no owner record of ours';
  const record = parseOwner(readFileSync(ownerPath, 'utf8'));
  if (!record) return 'no owner record of ours';
  const boot = bootId();
  if (boot === null) return 'cannot tell (no /proc)';
  if (record.boot !== boot) return null;
  const alive = [record.run, ...record.agents].filter((identity) => !gone(identity));
  if (alive.length > 0) return `in use (pid ${alive.map((identity) => identity.pid).join(', ')})`;
  return null;
}

/** Removes the stale temp directories of killed earlier runs in `parent`; returns what it removed. */
export function removeStaleWorkspaces(parent: string): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!WORKSPACE_NAME.test(name)) continue;
    const dir = join(parent, name);
    try {
      if (whyNotStale(dir) !== null) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Changed under us, or not ours to remove after all: leave it.
    }
  }
  return removed;
}
