// Helpers of the data-safety tests (test/data-safety-*.test.ts): run the dvm CLI, and walk and
// compare trees by raw bytes (names that are not valid UTF-8 survive, unlike a string readdir).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { userNodeCommand } from './support/user-node.js';
import type { AgentEvent, ProgressEvent, ResultEvent } from '../contract/events.js';

export const DVM = resolve(import.meta.dirname, '../dist/controller/cli/dvm.js');
export { AGENT_MAIN as AGENT } from './support/agent-process.js';

export interface DvmRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed after timeoutMs. */
  timedOut: boolean;
  events: AgentEvent[];
  result?: ResultEvent;
  lastProgress?: ProgressEvent;
}

/** `nodeFlags` go to node itself, before the script (e.g. a heap bound). */
export function runNode(script: string, args: string[], timeoutMs = 120_000, nodeFlags: string[] = []): Promise<DvmRun> {
  return new Promise((done) => {
    const child = spawn(...userNodeCommand(script, args, nodeFlags), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const events: AgentEvent[] = [];
      for (const line of stdout.split('\n')) {
        try {
          const parsed = JSON.parse(line) as AgentEvent;
          if (parsed && typeof parsed === 'object' && 'type' in parsed) events.push(parsed);
        } catch {
          /* not an event */
        }
      }
      const result = events.find((event): event is ResultEvent => event.type === 'result');
      const progress = events.filter((event): event is ProgressEvent => event.type === 'progress');
      done({
        code,
        stdout,
        stderr,
        timedOut,
        events,
        ...(result ? { result } : {}),
        ...(progress.length ? { lastProgress: progress[progress.length - 1] } : {}),
      });
    });
  });
}

export const runDvm = (args: string[], timeoutMs?: number, nodeFlags?: string[]): Promise<DvmRun> => runNode(DVM, args, timeoutMs, nodeFlags);

export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim().length > 0);
}

export interface ByteEntry {
  /** Relative path, bytes as latin1 (lossless), "" for the root. */
  key: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  mtimeS: number;
  size: number;
  uid: number;
  gid: number;
  ino: number;
  blocks: number;
  target?: string;
  sha256?: string;
}

const SLASH = Buffer.from('/');

/** Every entry under root, names as bytes. */
export function walkBytes(root: string): Map<string, ByteEntry> {
  const base = Buffer.from(root);
  const entries = new Map<string, ByteEntry>();
  const visit = (full: Buffer, rel: Buffer): void => {
    const stats = lstatSync(full);
    const type = stats.isSymbolicLink() ? 'symlink' : stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : 'other';
    const entry: ByteEntry = {
      key: rel.toString('latin1'),
      type,
      mode: stats.mode & 0o7777,
      mtimeS: Math.floor(stats.mtimeMs / 1000),
      size: stats.size,
      uid: stats.uid,
      gid: stats.gid,
      ino: stats.ino,
      blocks: stats.blocks,
    };
    if (type === 'symlink') entry.target = readlinkSync(full, { encoding: 'buffer' }).toString('latin1');
    if (type === 'file') entry.sha256 = createHash('sha256').update(readFileSync(full)).digest('hex');
    entries.set(entry.key, entry);
    if (type === 'dir') {
      for (const name of readdirSync(full, { encoding: 'buffer' })) {
        visit(Buffer.concat([full, SLASH, name]), rel.length ? Buffer.concat([rel, SLASH, name]) : name);
      }
    }
  };
  visit(base, Buffer.alloc(0));
  return entries;
}

const shown = (key: string): string => JSON.stringify(Buffer.from(key, 'latin1').toString('utf8'));

/** Differences (one line each) between expected tree a and actual tree b, by bytes: names, types,
 * content, modes, mtimes (not of symlinks), owners when root, symlink targets, hard-link groups. */
export function compareByBytes(a: string, b: string): string[] {
  const left = walkBytes(a);
  const right = walkBytes(b);
  const owners = process.getuid?.() === 0;
  const out: string[] = [];
  const groups = (entries: Map<string, ByteEntry>): Map<string, string> => {
    const byIno = new Map<number, string[]>();
    for (const entry of entries.values()) if (entry.type === 'file') byIno.set(entry.ino, [...(byIno.get(entry.ino) ?? []), entry.key]);
    const of = new Map<string, string>();
    for (const keys of byIno.values()) for (const key of keys) of.set(key, [...keys].sort().join('\0'));
    return of;
  };
  const leftGroups = groups(left);
  const rightGroups = groups(right);
  for (const [key, expected] of left) {
    const actual = right.get(key);
    if (!actual) {
      out.push(`missing ${shown(key)}`);
      continue;
    }
    if (actual.type !== expected.type) {
      out.push(`type ${shown(key)} ${expected.type} != ${actual.type}`);
      continue;
    }
    if (expected.sha256 !== actual.sha256) out.push(`content ${shown(key)}`);
    if (expected.target !== actual.target) out.push(`target ${shown(key)}`);
    if (expected.type !== 'symlink' && expected.mode !== actual.mode) out.push(`mode ${shown(key)} ${expected.mode.toString(8)} != ${actual.mode.toString(8)}`);
    if (expected.type !== 'symlink' && expected.mtimeS !== actual.mtimeS) out.push(`mtime ${shown(key)}`);
    if (owners && (expected.uid !== actual.uid || expected.gid !== actual.gid)) out.push(`owner ${shown(key)}`);
    if (leftGroups.get(key) !== rightGroups.get(key)) out.push(`hardlink ${shown(key)}`);
  }
  for (const key of right.keys()) if (!left.has(key)) out.push(`extra ${shown(key)}`);
  return out;
}
