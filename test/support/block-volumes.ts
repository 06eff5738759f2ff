// Real block volumes on the test cluster: sparse files on loop devices of this host, offered to the
// cluster as static `local` PersistentVolumes with `volumeMode: Block` in a StorageClass of the
// test's own, and deterministic contents written and hashed from the host. The cluster's own
// provisioner (dvm.test/local) makes Block volumes too, but only for PVCs of its class, created and
// bound at once: a destination PVC that dvm creates in a class we name needs a PV that is waiting
// for it, which is what these static PVs are.
//
// Everything is removed by one teardown (blockVolumes() registers it): pods still using a claim of
// ours, the claim, the PV (waited for: the kubelet unmaps the device only once its pods are gone),
// then the loop device and its file, then the class. A test killed before its teardown ran leaves
// loop devices behind; sweepStaleLoopDevices() detaches those of dead processes.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, fsyncSync, mkdtempSync, openSync, closeSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject, TestCluster } from './cluster.js';

export const MiB = 1024 * 1024;
/** The block copier's default block size; changes are made in whole blocks of this size. */
export const BLOCK = MiB;
/** Backing files live in <tmpdir>/dvm-loop-<pid>-XXXXXX: the pid tells a sweep whose they are. */
const DIR_PREFIX = 'dvm-loop-';
/** Label on our PVs and StorageClasses: the pid of the test process that made them. */
export const OWNER_LABEL = 'dvm.test/block-volumes-pid';

/** What blockVolumes() needs of a tap Test. Teardowns must not throw: tap stops running the rest. */
export interface Teardowns {
  teardown(fn: () => unknown): void;
}

function run(file: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** A Kubernetes quantity for a whole number of MiB (sizes here are always MiB multiples). */
export function quantity(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % MiB !== 0) throw new Error(`size ${bytes} is not a positive multiple of 1 MiB`);
  return `${bytes / MiB}Mi`;
}

// ---- loop devices ---------------------------------------------------------------------------------

export interface LoopDevice {
  /** /dev/loopN */
  device: string;
  /** The sparse backing file. */
  file: string;
  bytes: number;
}

/** A loop device over a fresh sparse file of `bytes` (zeros until written). Root only. */
export async function createLoopDevice(bytes: number): Promise<LoopDevice> {
  quantity(bytes);
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const file = join(dir, 'disk.img');
  try {
    await run('truncate', ['-s', String(bytes), file]);
    // losetup -f --show picks a free device (creating /dev/loopN through loop-control when all are
    // taken) and retries by itself when another process grabs the same one first.
    const device = (await run('losetup', ['-f', '--show', file])).trim();
    if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup printed ${JSON.stringify(device)}`);
    return { device, file, bytes };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The loop devices backed by `file` (losetup -j), e.g. [] after a detach. */
export async function loopDevicesOf(file: string): Promise<string[]> {
  return (await run('losetup', ['-n', '-O', 'NAME', '-j', file]))
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** Detaches the device and removes its file. When the device is still open (a pod, or the kubelet's
 * own loop device over it) the kernel detaches it at the last close (autoclear); the file can go at
 * once, the loop device holds the inode. Never throws: returns what went wrong, or "". */
export async function destroyLoopDevice(loop: LoopDevice): Promise<string> {
  let problem = '';
  try {
    if ((await loopDevicesOf(loop.file)).includes(loop.device)) await run('losetup', ['-d', loop.device]);
  } catch (error) {
    problem = (error as Error).message;
  }
  rmSync(join(loop.file, '..'), { recursive: true, force: true });
  return problem;
}

interface LosetupEntry {
  name: string;
  'back-file': string | null;
}

/** All attached loop devices with their backing files (the kernel appends " (deleted)" to removed ones). */
export async function listLoopDevices(): Promise<LosetupEntry[]> {
  const text = await run('losetup', ['-J', '-l', '-O', 'NAME,BACK-FILE']);
  return text.trim() ? ((JSON.parse(text) as { loopdevices: LosetupEntry[] }).loopdevices ?? []) : [];
}

/** Whether the process still runs; true for anything that is not a pid (never sweep the unknown). */
function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Detaches loop devices (and removes backing directories) left by test processes that died before
 * their teardown (a tap timeout kills the process). Only ours: files under <tmpdir>/dvm-loop-<pid>-.
 * Returns the devices detached. */
export async function sweepStaleLoopDevices(): Promise<string[]> {
  const pattern = new RegExp(`^${tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${DIR_PREFIX}(\\d+)-[^/]+/`);
  const swept: string[] = [];
  for (const entry of await listLoopDevices()) {
    const match = pattern.exec(entry['back-file'] ?? '');
    if (!match || alive(Number(match[1]))) continue;
    await run('losetup', ['-d', entry.name]).then(
      () => swept.push(entry.name),
      () => undefined,
    );
  }
  for (const name of readdirSync(tmpdir())) {
    const match = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    if (match && !alive(Number(match[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  return swept;
}

/** sweepStaleLoopDevices(), and the PVs and StorageClasses those dead processes labelled as theirs
 * (a PV left on a detached device would point at whatever /dev/loopN is attached next). Claims in
 * their namespaces went with the namespaces. Returns what was removed. */
export async function sweepStaleBlockVolumes(cluster: TestCluster): Promise<string[]> {
  const swept = await sweepStaleLoopDevices();
  for (const kind of ['pv', 'storageclass']) {
    const { items } = await cluster.kubectlJson<{ items: KubeObject[] }>(['get', kind, '-l', OWNER_LABEL]);
    const stale = items.filter((item) => !alive(Number(item.metadata?.labels?.[OWNER_LABEL]))).map((item) => `${kind}/${item.metadata.name}`);
    if (stale.length === 0) continue;
    await cluster.kubectl(['delete', '--ignore-not-found', '--wait=false', ...stale]);
    swept.push(...stale);
  }
  return swept;
}

// ---- Kubernetes objects -----------------------------------------------------------------------------

/** A class for static local block PVs: nothing provisions it, and WaitForFirstConsumer lets the
 * scheduler bind a claim only when its pod is placed (as local volumes require: the PV is on one node). */
export function blockStorageClass(name: string): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name, labels: { [OWNER_LABEL]: String(process.pid) } },
    provisioner: 'kubernetes.io/no-provisioner',
    volumeBindingMode: 'WaitForFirstConsumer',
    reclaimPolicy: 'Retain',
  };
}

export interface ClaimRef {
  namespace: string;
  name: string;
}

/** A Block `local` PV on the loop device, on this node. `claim` reserves it for one PVC (a pre-bound
 * PV: the claim may not exist yet, e.g. the destination PVC dvm is about to create); without it any
 * claim of the class and size can have it. Retain: the device is ours to remove, never the PV
 * controller's (which has no deleter for `local` volumes anyway). */
export function blockPersistentVolume(name: string, storageClass: string, nodeName: string, loop: LoopDevice, claim?: ClaimRef): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels: { [OWNER_LABEL]: String(process.pid) }, annotations: { 'dvm.test/loop-backing-file': loop.file } },
    spec: {
      capacity: { storage: quantity(loop.bytes) },
      volumeMode: 'Block',
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: storageClass,
      local: { path: loop.device },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [nodeName] }] }] } },
      ...(claim ? { claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.namespace, name: claim.name } } : {}),
    },
  };
}

/** A Block PVC in the class. With `volumeName` the PV controller binds it at once (no pod needed,
 * WaitForFirstConsumer applies to claims without a volume name only). */
export function blockPvc(name: string, storageClass: string, bytes: number, volumeName?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Block',
      storageClassName: storageClass,
      resources: { requests: { storage: quantity(bytes) } },
      ...(volumeName ? { volumeName } : {}),
    },
  };
}

// ---- a test's set of volumes --------------------------------------------------------------------------

export interface BlockVolume extends LoopDevice {
  pv: string;
  storageClass: string;
}

export interface BlockVolumes {
  /** The test's own StorageClass (created by blockVolumes()). */
  storageClass: string;
  /** A loop device of `bytes` and a Block PV on it (reserved for `claim` when given). */
  volume(bytes: number, claim?: ClaimRef): Promise<BlockVolume>;
  /** A loop PV and a Block PVC `name` in `namespace` bound to it; waits until Bound. */
  boundPvc(namespace: string, name: string, bytes: number): Promise<BlockVolume>;
  /** Removes everything made so far (idempotent; what blockVolumes() registered as a teardown).
   * Never throws; returns what could not be removed. */
  cleanup(): Promise<string[]>;
}

/** A StorageClass `<prefix>-<pid><n>` and the volumes a test makes in it, all removed by a
 * teardown registered on `t` now (before anything can fail). */
export async function blockVolumes(t: Teardowns, cluster: TestCluster, prefix = 'dvm-block'): Promise<BlockVolumes> {
  const storageClass = `${prefix}-${process.pid.toString(36)}${(++sequence).toString(36)}`;
  const made: BlockVolume[] = [];
  let cleaned: Promise<string[]> | undefined;
  const set: BlockVolumes = {
    storageClass,
    async volume(bytes, claim) {
      const loop = await createLoopDevice(bytes);
      const volume: BlockVolume = { ...loop, pv: `${storageClass}-${made.length}`, storageClass };
      made.push(volume);
      await cluster.apply(blockPersistentVolume(volume.pv, storageClass, cluster.nodeName, loop, claim));
      return volume;
    },
    async boundPvc(namespace, name, bytes) {
      const volume = await set.volume(bytes, { namespace, name });
      await cluster.apply(blockPvc(name, storageClass, bytes, volume.pv), namespace);
      const bound = await cluster.waitForPvcBound(namespace, name);
      if (bound.volumeName !== volume.pv) throw new Error(`${namespace}/${name} bound to ${bound.volumeName}, not ${volume.pv}`);
      return volume;
    },
    cleanup() {
      cleaned ??= removeAll(cluster, storageClass, made);
      return cleaned;
    },
  };
  t.teardown(async () => {
    const problems = await set.cleanup();
    if (problems.length > 0) console.error(`block volumes of ${storageClass} not fully removed:\n  ${problems.join('\n  ')}`);
  });
  await cluster.apply(blockStorageClass(storageClass));
  return set;
}

let sequence = 0;

async function removeAll(cluster: TestCluster, storageClass: string, volumes: BlockVolume[]): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message.slice(0, 300)}`);
    }
  };
  for (const volume of volumes) {
    const pv = await cluster.kubectlJson(['get', 'pv', volume.pv, '--ignore-not-found']).catch(() => undefined);
    const claim = pv?.spec?.claimRef as ClaimRef | undefined;
    if (claim?.namespace && claim.name) {
      // A PV is deleted only once its claim is, and a claim only once no pod uses it: take both away
      // here so the order of the test's other teardowns (its namespaces) does not matter.
      await attempt(`pods of ${claim.namespace}/${claim.name}`, async () => {
        const pods = (await cluster.kubectlJson<{ items: KubeObject[] }>(['get', 'pods', '-n', claim.namespace])).items.filter((pod) =>
          (pod.spec?.volumes ?? []).some((v: KubeObject) => v.persistentVolumeClaim?.claimName === claim.name),
        );
        if (pods.length > 0) {
          await cluster.kubectl(['delete', 'pod', '-n', claim.namespace, '--wait=false', '--grace-period=1', ...pods.map((pod) => pod.metadata.name)]);
        }
      });
      await attempt(`PVC ${claim.namespace}/${claim.name}`, () =>
        cluster.kubectl(['delete', 'pvc', claim.name, '-n', claim.namespace, '--ignore-not-found', '--wait=false']),
      );
    }
    await attempt(`PV ${volume.pv}`, () => cluster.kubectl(['delete', 'pv', volume.pv, '--ignore-not-found', '--wait=false']));
  }
  // Only once a PV is gone are its pods gone and its device unmapped by the kubelet: detaching earlier
  // would leave the loop device to the kernel's autoclear and the PV pointing at a free /dev/loopN
  // that the next losetup -f hands to someone else.
  for (const volume of volumes) {
    await attempt(`PV ${volume.pv} gone`, () =>
      cluster.kubectl(['wait', '--for=delete', `pv/${volume.pv}`, '--timeout=90s'], { timeoutMs: 100_000 }).catch(async (error: Error) => {
        if ((await cluster.kubectl(['get', 'pv', volume.pv, '--ignore-not-found', '-o', 'name'])).trim()) throw error;
      }),
    );
  }
  for (const volume of volumes) {
    const problem = await destroyLoopDevice(volume);
    if (problem) problems.push(`loop device ${volume.device}: ${problem}`);
  }
  await attempt(`StorageClass ${storageClass}`, () => cluster.kubectl(['delete', 'storageclass', storageClass, '--ignore-not-found']));
  return problems;
}

// ---- contents -----------------------------------------------------------------------------------------

/** Block `index` of a deterministic pseudo-random stream (xorshift32 seeded by seed and index): every
 * block distinct, never all zero, the same on every run; ~1 ms per MiB. */
export function pseudoRandomBlock(seed: number, index: number, bytes = BLOCK): Buffer {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  let x = (Math.imul(seed + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, bytes);
}

export interface FillLayout {
  blocks: number;
  /** Blocks [zeroFrom, zeroTo) are zeros, the others pseudo-random. */
  zeroFrom: number;
  zeroTo: number;
}

function withDevice<T>(path: string, flags: string, use: (fd: number) => T): T {
  const fd = openSync(path, flags);
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes the whole device from this host: the first 40 % pseudo-random, then 20 % zeros (written,
 * so the result does not depend on what was there), then pseudo-random; fsync'd. Through the device,
 * not the backing file: pods read the device, and the device's page cache is not the file's. */
export function fillDevice(loop: LoopDevice, seed: number, zeroShare: [number, number] = [0.4, 0.6]): FillLayout {
  const blocks = Math.ceil(loop.bytes / BLOCK);
  const layout = { blocks, zeroFrom: Math.floor(blocks * zeroShare[0]), zeroTo: Math.floor(blocks * zeroShare[1]) };
  const zeros = Buffer.alloc(BLOCK);
  withDevice(loop.device, 'r+', (fd) => {
    for (let index = 0; index < blocks; index++) {
      const length = Math.min(BLOCK, loop.bytes - index * BLOCK);
      const data = index >= layout.zeroFrom && index < layout.zeroTo ? zeros : pseudoRandomBlock(seed, index);
      writeSync(fd, data, 0, length, index * BLOCK);
    }
    fsyncSync(fd);
  });
  return layout;
}

export interface BlockChange {
  index: number;
  /** Make the block zeros instead of new pseudo-random data. */
  zero?: boolean;
}

/** About `share` of the blocks (at least 3), spread evenly, chosen so that a data block becomes
 * other data, a block of the zero region becomes data and one data block becomes zeros: each of the
 * copier's re-sync cases (DATA over data, DATA over zeros, ZERO over data). */
export function chooseChanges(layout: FillLayout, share = 0.01): BlockChange[] {
  const count = Math.max(3, Math.round(layout.blocks * share));
  const changes = new Map<number, BlockChange>();
  for (let i = 0; i < count; i++) {
    const index = Math.min(layout.blocks - 1, Math.floor(((i + 0.5) * layout.blocks) / count));
    changes.set(index, { index });
  }
  const inZeros = Math.floor((layout.zeroFrom + layout.zeroTo) / 2);
  if (layout.zeroTo > layout.zeroFrom) changes.set(inZeros, { index: inZeros });
  if (layout.zeroFrom > 1) changes.set(1, { index: 1, zero: true });
  return [...changes.values()].sort((a, b) => a.index - b.index);
}

/** Overwrites whole blocks in place (new data from `seed`, or zeros); fsync'd. */
export function changeBlocks(loop: LoopDevice, changes: BlockChange[], seed: number): void {
  const zeros = Buffer.alloc(BLOCK);
  withDevice(loop.device, 'r+', (fd) => {
    for (const change of changes) {
      const length = Math.min(BLOCK, loop.bytes - change.index * BLOCK);
      if (length <= 0) throw new Error(`block ${change.index} is beyond the device's ${loop.bytes} bytes`);
      writeSync(fd, change.zero ? zeros : pseudoRandomBlock(seed, change.index), 0, length, change.index * BLOCK);
    }
    fsyncSync(fd);
  });
}

/** SHA-256 (hex) of the first `bytes` of a device or file, streamed; fails when it holds fewer. */
export async function hashDevice(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  let seen = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1, highWaterMark: 4 * MiB })) {
    hash.update(chunk as Buffer);
    seen += (chunk as Buffer).length;
  }
  if (seen !== bytes) throw new Error(`${path}: read ${seen} of ${bytes} bytes`);
  return hash.digest('hex');
}

/** SHA-256 (hex) of `bytes` zeros: what hashDevice gives for a fresh (never written) device. */
export function zeroHash(bytes: number): string {
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(Math.min(bytes, 4 * MiB));
  for (let left = bytes; left > 0; left -= zeros.length) hash.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  return hash.digest('hex');
}
