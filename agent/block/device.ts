// The device under copy: a block device (a volumeDevices path) or a regular file standing in for
// one. Its size, sequential reads with read-ahead, and making a range zero (a hole in a regular
// file, so it stays sparse; zeros written on a device).
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { blockCount, blockLength } from './hashing.js';

const execFileAsync = promisify(execFile);

export interface DeviceInfo {
  path: string;
  kind: 'block-device' | 'file';
  bytes: number;
}

function majorMinor(rdev: number): { major: number; minor: number } {
  // glibc's gnu_dev_major/minor on a 64-bit dev_t.
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev >>> 0;
  return {
    major: ((low >>> 8) & 0xfff) | ((high & 0xfffff000) >>> 0),
    minor: (low & 0xff) | ((low >>> 12) & 0xfff00),
  };
}

/** A block device's size from sysfs (512-byte sectors); fstat reports 0 for devices. */
function blockDeviceBytes(path: string, stats: Stats): number {
  const { major, minor } = majorMinor(stats.rdev);
  try {
    const sectors = Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim());
    if (Number.isSafeInteger(sectors)) return sectors * 512;
  } catch {
    /* no sysfs: fall through */
  }
  throw new Error(`cannot tell the size of block device ${path} (${major}:${minor}): /sys/dev/block is not readable`);
}

export function describeDevice(path: string, role: 'source' | 'target'): DeviceInfo {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new Error(`${role} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (stats.isBlockDevice()) return { path, kind: 'block-device', bytes: blockDeviceBytes(path, stats) };
  if (stats.isFile()) return { path, kind: 'file', bytes: stats.size };
  throw new Error(`${role} ${path} is neither a block device nor a regular file`);
}

/** Fails with what to do when this process may not read (source) or write (target) the device.
 * A non-root pod meets this on most clusters: the container runtime copies the host node's owner and
 * mode (root:disk 0660 under udev, root:root 0600 without it) unless it was told to hand the device
 * to the pod's user (containerd's and CRI-O's `device_ownership_from_security_context`); fsGroup
 * does not reach devices. Checked at start, so the pod says so in one line instead of failing later
 * with a bare EACCES. */
export function assertDeviceAccess(info: DeviceInfo, role: 'source' | 'target'): void {
  const wanted = role === 'source' ? constants.R_OK : constants.R_OK | constants.W_OK;
  try {
    accessSync(info.path, wanted);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const stats = statSync(info.path);
    const owner = `owner ${stats.uid}:${stats.gid}, mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}`;
    const user = `uid ${process.getuid?.() ?? '?'}, groups ${(process.getgroups?.() ?? []).join(',') || 'none'}`;
    throw new Error(
      `${role} ${info.path} is not ${role === 'source' ? 'readable' : 'writable'} by this agent (${code}; ${owner}; we run as ${user}): ` +
        "block volumes need migration_rsync_privileged: true, the device's group in src_supplemental_groups/target_supplemental_groups " +
        'when its mode lets the group in, or a container runtime with device_ownership_from_security_context enabled',
    );
  }
}

export interface Block {
  index: number;
  data: Buffer;
}

/** Reads blocks 0..n-1 in order with `depth` reads in flight, so the disk works while the caller
 * hashes or sends. */
export class BlockReader {
  private readonly inFlight = new Map<number, Promise<Buffer>>();
  private nextToIssue = 0;
  readonly blocks: number;

  private constructor(
    private readonly handle: FileHandle,
    private readonly bytes: number,
    private readonly blockSize: number,
    private readonly depth: number,
  ) {
    this.blocks = blockCount(bytes, blockSize);
  }

  static async open(path: string, bytes: number, blockSize: number, depth = 4): Promise<BlockReader> {
    return new BlockReader(await open(path, constants.O_RDONLY), bytes, blockSize, depth);
  }

  private issue(): void {
    while (this.nextToIssue < this.blocks && this.inFlight.size < this.depth) {
      const index = this.nextToIssue++;
      this.inFlight.set(index, this.readAt(index));
    }
  }

  private async readAt(index: number): Promise<Buffer> {
    const length = blockLength(index, this.bytes, this.blockSize);
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buffer, done, length - done, index * this.blockSize + done);
      if (bytesRead === 0) throw new Error(`short read at block ${index}: the device shrank`);
      done += bytesRead;
    }
    return buffer;
  }

  /** Block `index`; blocks must be asked for in order. */
  async read(index: number): Promise<Buffer> {
    this.issue();
    const pending = this.inFlight.get(index);
    if (!pending) throw new Error(`block ${index} read out of order`);
    this.inFlight.delete(index);
    const data = await pending;
    this.issue();
    return data;
  }

  async close(): Promise<void> {
    // Reads still in flight would fail on a closed handle; let them finish first.
    await Promise.allSettled([...this.inFlight.values()]);
    this.inFlight.clear();
    await this.handle.close();
  }
}

/** The destination side: positional writes, making ranges zero, and a flush. */
export class DeviceWriter {
  private constructor(
    private readonly handle: FileHandle,
    readonly info: DeviceInfo,
    private readonly fallocatePath: string,
  ) {}

  static async open(info: DeviceInfo, fallocatePath: string): Promise<DeviceWriter> {
    // Never O_TRUNC or O_CREAT: the device is written in place and its size is left as it is.
    return new DeviceWriter(await open(info.path, constants.O_RDWR), info, fallocatePath);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  /** A regular file gets a hole (fallocate --punch-hole keeps its size); a device, or a file system
   * that cannot punch, gets zeros written. */
  async zero(offset: number, length: number): Promise<void> {
    if (this.info.kind === 'file') {
      try {
        await execFileAsync(this.fallocatePath, ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), this.info.path]);
        return;
      } catch {
        /* no fallocate or no hole support: write zeros */
      }
    }
    const chunk = Buffer.alloc(Math.min(length, 4 * 1024 * 1024));
    for (let at = 0; at < length; at += chunk.length) {
      await this.write(offset + at, chunk.subarray(0, Math.min(chunk.length, length - at)));
    }
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
