// Measures the source for the progress totals: bytes of regular files (a hard-linked file counted
// once) and the number of entries, the root included. rsync starts before the walk ends, and the
// walk never stands in its way:
// - natively (native/relay/walk.c, in the agent's addon) on a thread of its own at SCHED_IDLE: the
//   event loop stays free for the tunnel, and on a pod's one CPU the walk gets only what rsync and
//   the relay leave idle. (The JavaScript walk blocked the event loop for about 1.2 s of CPU per
//   200,000 files, while rsync's first connection waited: bench/README.md.)
// - in JavaScript where the addon cannot be loaded, or with DVM_SOURCE_WALK=js.
// Either way a symbolic link is never followed below the root, names are bytes (a name that is not
// valid UTF-8 must still name its file), and an entry that vanishes while we look is skipped: the
// source may be live (a Stage copy runs beside the application), and a file deleted between
// readdir and lstat is not a reason to fail the migration.
import { lstatSync, readdirSync } from 'node:fs';
import { nativeAddon } from '../native-addon.js';

const SLASH = Buffer.from('/');

export interface SourceSize {
  bytes: number;
  entries: number;
}

export type WalkImplementation = 'native' | 'js';

interface NativeWalkResult extends SourceSize {
  code: string | null;
  syscall: string | null;
  path: Buffer | null;
}

type NativeWalk = (root: Buffer, idle: boolean, onDone: (result: NativeWalkResult) => void) => void;

/** The walk this process uses, and why it is not the native one. */
export function walkImplementation(): { implementation: WalkImplementation; reason?: string } {
  if (process.env.DVM_SOURCE_WALK === 'js') return { implementation: 'js', reason: 'DVM_SOURCE_WALK=js' };
  const addon = nativeAddon();
  if (!addon.available) return { implementation: 'js', reason: addon.reason };
  return { implementation: 'native' };
}

export interface MeasureOptions {
  /** Force one walk (tests compare them); default: walkImplementation(). */
  implementation?: WalkImplementation;
  /** Native walk at SCHED_IDLE (default true). */
  idle?: boolean;
}

export function measureSource(root: string, options: MeasureOptions = {}): Promise<SourceSize> {
  const implementation = options.implementation ?? walkImplementation().implementation;
  if (implementation === 'js') return Promise.resolve().then(() => measureInJavaScript(root));
  const addon = nativeAddon();
  if (!addon.available) return Promise.reject(new Error(`the native source walk is not available: ${addon.reason}`));
  const walk = addon.exports.walk as NativeWalk;
  return new Promise((resolve, reject) => {
    walk(Buffer.from(root), options.idle ?? true, (result) => {
      if (result.code === null) resolve({ bytes: result.bytes, entries: result.entries });
      else reject(walkError(result.code, result.syscall ?? 'walk', result.path ?? Buffer.from(root)));
    });
  });
}

/** The error as node:fs would have thrown it: code, syscall and path, the path in the message. */
function walkError(code: string, syscall: string, path: Buffer): NodeJS.ErrnoException {
  const shown = path.toString();
  const error: NodeJS.ErrnoException = new Error(`${code}: cannot measure the source, ${syscall} '${shown}'`);
  error.code = code;
  error.syscall = syscall;
  error.path = shown;
  return error;
}

function gone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

function measureInJavaScript(root: string): SourceSize {
  const seenInodes = new Set<string>();
  let bytes = 0;
  let entries = 0;
  const rootPath = Buffer.from(root);
  const pending: Buffer[] = [rootPath];
  while (pending.length > 0) {
    const dir = pending.pop() as Buffer;
    entries += 1;
    let listing;
    try {
      listing = readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (error) {
      if (dir !== rootPath && gone(error)) continue;
      throw error;
    }
    for (const entry of listing) {
      const path = Buffer.concat([dir, SLASH, entry.name]);
      if (entry.isDirectory()) {
        pending.push(path);
        continue;
      }
      entries += 1;
      if (!entry.isFile()) continue;
      let stats;
      try {
        stats = lstatSync(path);
      } catch (error) {
        if (gone(error)) continue;
        throw error;
      }
      if (!stats.isFile()) continue;
      if (stats.nlink > 1) {
        const inode = `${stats.dev}:${stats.ino}`;
        if (seenInodes.has(inode)) continue;
        seenInodes.add(inode);
      }
      bytes += stats.size;
    }
  }
  return { bytes, entries };
}
