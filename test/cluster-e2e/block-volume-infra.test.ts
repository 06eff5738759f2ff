// The real-cluster shape block.test.ts builds on, without dvm: a Block PVC bound to a static local
// PV on a loop device of this host, read inside pods of the agent image through `volumeDevices`
// with exactly the security contexts dvm gives its pods (controller/manifests/security.ts). Root
// (migration_rsync_privileged) reads what the host wrote; dvm's non-root default cannot open the
// device, because containerd (device_ownership_from_security_context off, its default) hands the
// device node to root. Also: everything of a test (pods, PVC, PV, loop device, class) is gone after
// its teardown, after a failure too, and loop devices of killed test processes are swept.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { KubeObject, TestCluster } from '../support/cluster.js';
import {
  blockVolumes,
  fillDevice,
  hashDevice,
  listLoopDevices,
  MiB,
  sweepStaleBlockVolumes,
  sweepStaleLoopDevices,
  type BlockVolume,
  type Teardowns,
} from '../support/block-volumes.js';
import { AGENT_IMAGE, e2eCluster, IMAGE_UID, uniqueName } from './support.js';

const DEVICE = '/dev/dvm/source';
const SIZE = 64 * MiB;
/** The pods hash this much of the device (the host hashes the same). */
const HASHED = MiB;
/** Debian's group disk: what udev gives block devices. */
const DISK_GID = 6;

// controller/manifests/security.ts, reproduced (not imported: a test of what dvm's pods meet must not
// change when that file does; block.test.ts runs the real thing).
const ROOT_CAPABILITIES = ['CHOWN', 'FOWNER', 'DAC_OVERRIDE', 'SETGID', 'SETUID', 'FSETID', 'MKNOD'];
const PRIVILEGED = {
  pod: { seccompProfile: { type: 'RuntimeDefault' }, runAsUser: 0, runAsGroup: 0, runAsNonRoot: false },
  container: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ROOT_CAPABILITIES }, runAsNonRoot: false },
};
/** dvm's default: no runAsUser, the image's user (1001, group 0) under runAsNonRoot. */
const NON_ROOT = {
  pod: { seccompProfile: { type: 'RuntimeDefault' }, runAsNonRoot: true },
  container: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsNonRoot: true },
};

/** Runs in the pod (node of the agent image): the device's stat, the user, access, a read of the first
 * HASHED bytes and its SHA-256, an O_RDWR open, and the agent's own check (agent/block/device.ts) when
 * the image has it. One JSON object per line. With HOLD the pod keeps running (the device stays mapped). */
const PROBE = String.raw`
const fs = require('fs'), crypto = require('crypto');
const path = ${JSON.stringify(DEVICE)}, length = ${HASHED};
const out = (key, value) => console.log(JSON.stringify({ [key]: value }));
(async () => {
  const st = fs.statSync(path);
  out('stat', { block: st.isBlockDevice(), uid: st.uid, gid: st.gid, mode: (st.mode & 0o7777).toString(8).padStart(4, '0') });
  out('user', { uid: process.getuid(), gid: process.getgid(), groups: process.getgroups() });
  try {
    const fd = fs.openSync(path, 'r');
    const buffer = Buffer.alloc(length);
    let n = 0;
    while (n < length) { const r = fs.readSync(fd, buffer, n, length - n, n); if (!r) break; n += r; }
    fs.closeSync(fd);
    out('read', { ok: true, bytes: n, sha256: crypto.createHash('sha256').update(buffer.subarray(0, n)).digest('hex') });
  } catch (e) { out('read', { ok: false, code: e.code, message: e.message }); }
  try { fs.closeSync(fs.openSync(path, 'r+')); out('openRw', { ok: true }); } catch (e) { out('openRw', { ok: false, code: e.code, message: e.message }); }
  try {
    const device = await import('/opt/dvm/dist/agent/block/device.js');
    if (typeof device.assertDeviceAccess !== 'function') out('agent', { available: false, message: 'no assertDeviceAccess in this image' });
    else for (const role of ['source', 'target']) {
      try { device.assertDeviceAccess(device.describeDevice(path, role), role); out('agent', { available: true, role, ok: true }); }
      catch (e) { out('agent', { available: true, role, ok: false, message: e.message }); }
    }
  } catch (e) { out('agent', { available: false, message: e.message }); }
  if (process.env.HOLD) setInterval(() => {}, 1 << 30);
})();
`;

interface Probe {
  /** ls -l and ls -ln of the device, as the pod's shell printed them. */
  ls: string[];
  stat: { block: boolean; uid: number; gid: number; mode: string };
  user: { uid: number; gid: number; groups: number[] };
  read: { ok: true; bytes: number; sha256: string } | { ok: false; code: string; message: string };
  openRw: { ok: boolean; code?: string; message?: string };
  agent: Array<{ available: boolean; role?: string; ok?: boolean; message?: string }>;
}

function probePod(name: string, claimName: string, security: { pod: object; container: object }, hold = false): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      securityContext: security.pod,
      containers: [
        {
          name: 'probe',
          image: AGENT_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', `ls -l ${DEVICE}; ls -ln ${DEVICE}; exec node -e "$1"`, 'sh', PROBE],
          env: hold ? [{ name: 'HOLD', value: '1' }] : [],
          securityContext: security.container,
          // The name is the volume's; devicePath is where the runtime creates the device node.
          volumeDevices: [{ name: 'disk', devicePath: DEVICE }],
        },
      ],
      volumes: [{ name: 'disk', persistentVolumeClaim: { claimName } }],
    },
  };
}

function parseProbe(log: string): Probe {
  const probe: Partial<Probe> & { ls: string[]; agent: Probe['agent'] } = { ls: [], agent: [] };
  for (const line of log.split('\n').filter(Boolean)) {
    if (!line.startsWith('{')) {
      probe.ls.push(line);
      continue;
    }
    const [key, value] = Object.entries(JSON.parse(line) as Record<string, unknown>)[0]!;
    if (key === 'agent') probe.agent.push(value as Probe['agent'][number]);
    else (probe as Record<string, unknown>)[key] = value;
  }
  if (!probe.stat || !probe.user || !probe.read || !probe.openRw) throw new Error(`incomplete probe output:\n${log}`);
  return probe as Probe;
}

async function waitForLog(cluster: TestCluster, namespace: string, pod: string, pattern: RegExp, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await cluster.kubectl(['logs', pod, '-n', namespace]).catch(() => '');
    if (pattern.test(log)) return log;
    if (Date.now() > deadline) throw new Error(`pod ${namespace}/${pod}: no ${pattern} in its log within ${timeoutMs} ms: ${log.slice(-500)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function podsOnDevice(cluster: TestCluster, namespace: string, claim: string, pods: Record<string, { pod: object; container: object }>) {
  const names = Object.keys(pods);
  await cluster.apply(
    names.map((name) => probePod(name, claim, pods[name]!)),
    namespace,
  );
  const results: Record<string, Probe & { phase: string }> = {};
  await Promise.all(
    names.map(async (name) => {
      const phase = await cluster.waitForPodPhase(namespace, name, ['Succeeded', 'Failed'], 120_000);
      results[name] = { phase, ...parseProbe(await cluster.kubectl(['logs', name, '-n', namespace])) };
    }),
  );
  return results;
}

/** Everything of `volume` is gone: PV, loop device, backing file, and the kubelet's own loop device on it. */
async function assertGone(t: Test, cluster: TestCluster, volume: BlockVolume): Promise<void> {
  t.equal((await cluster.kubectl(['get', 'pv', volume.pv, '--ignore-not-found', '-o', 'name'])).trim(), '', `PV ${volume.pv} deleted`);
  t.equal((await cluster.kubectl(['get', 'storageclass', volume.storageClass, '--ignore-not-found', '-o', 'name'])).trim(), '', 'StorageClass deleted');
  t.notOk(existsSync(volume.file), 'backing file removed');
  // By backing file, not losetup -j: that needs the file, and a detached-too-late device would show
  // its file as "... (deleted)".
  const mentions = (await listLoopDevices()).filter((entry) => (entry['back-file'] ?? '').includes(volume.pv) || entry['back-file']?.startsWith(volume.file));
  t.same(mentions, [], `no loop device (the kubelet’s included) refers to the PV or its file (was ${volume.device})`);
}

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  const started = Date.now();
  const swept = await sweepStaleBlockVolumes(cluster);
  if (swept.length > 0) t.comment(`swept what killed runs left: ${swept.join(', ')}`);

  t.test('a Block PVC on a loop PV, read through volumeDevices as root and as dvm’s non-root default', async (t) => {
    let volume: BlockVolume | undefined;
    await t.test('pods on the device', async (t) => {
      const ns = uniqueName('blkinfra');
      await cluster.createNamespace(ns, 'baseline');
      t.teardown(() => cluster.deleteNamespace(ns, false));
      const volumes = await blockVolumes(t, cluster, 'blkinfra');
      let at = Date.now();
      volume = await volumes.boundPvc(ns, 'disk', SIZE);
      t.match(volume.device, /^\/dev\/loop\d+$/, `PVC ${ns}/disk bound to ${volume.pv} on ${volume.device}`);
      const pv = await cluster.kubectlJson(['get', 'pv', volume.pv]);
      t.equal(pv.spec.volumeMode, 'Block');
      t.equal(pv.status.phase, 'Bound');
      const layout = fillDevice(volume, 7);
      const hostHash = await hashDevice(volume.device, HASHED);
      t.comment(`loop device, PV, bound PVC and ${SIZE / MiB} MiB written: ${Date.now() - at} ms (zeros in blocks ${layout.zeroFrom}–${layout.zeroTo - 1})`);

      // (a) dvm's privileged mode, held running: the kubelet's mapping of the device can be looked at.
      at = Date.now();
      await cluster.apply(probePod('root', 'disk', PRIVILEGED, true), ns);
      const rootLog = await waitForLog(cluster, ns, 'root', /"read"/);
      const root = parseProbe(rootLog);
      t.comment(`privileged pod created → device read: ${Date.now() - at} ms`);
      t.comment(`as root, ls -l: ${root.ls.join(' | ')}`);
      t.ok(root.stat.block, 'a block device in the pod');
      t.same(root.user, { uid: 0, gid: 0, groups: [0] }, 'uid 0');
      t.same(root.read, { ok: true, bytes: HASHED, sha256: hostHash }, 'root reads what the host wrote');
      t.same(root.openRw, { ok: true }, 'and may open it read-write');
      const loops = await listLoopDevices();
      const kubelet = loops.filter((entry) => entry.name !== volume!.device && (entry['back-file'] ?? '').includes(volume!.pv));
      t.comment(`loop devices while the pod runs: ${JSON.stringify(loops.filter((entry) => entry.name === volume!.device || kubelet.includes(entry)))}`);

      // (b) dvm's non-root default, and variants that tell which part matters.
      at = Date.now();
      const pods = await podsOnDevice(cluster, ns, 'disk', {
        nonroot: NON_ROOT,
        // The destination server pod with rsync_fs_group: fsGroup does not reach volumeDevices.
        'nonroot-fsgroup': { pod: { ...NON_ROOT.pod, fsGroup: 2000, supplementalGroups: [6] }, container: NON_ROOT.container },
        // Root without DAC_OVERRIDE: the device is root's own, so the owner bits let root in anyway.
        'root-nocaps': { pod: PRIVILEGED.pod, container: { ...PRIVILEGED.container, capabilities: { drop: ['ALL'] } } },
      });
      t.comment(`three more pods on the device, created → all Succeeded: ${Date.now() - at} ms`);
      const nonroot = pods.nonroot!;
      t.comment(`non-root, ls -l: ${nonroot.ls.join(' | ')}`);
      t.comment(`non-root, read: ${JSON.stringify(nonroot.read)}; O_RDWR: ${JSON.stringify(nonroot.openRw)}`);
      t.comment(`non-root, the agent's own check: ${JSON.stringify(nonroot.agent)}`);
      t.equal(nonroot.phase, 'Succeeded', 'the probe ran to its end');
      t.same(nonroot.user, { uid: IMAGE_UID, gid: 0, groups: [0] }, 'the image’s user 1001, group 0');
      t.same(nonroot.stat, { block: true, uid: 0, gid: 0, mode: '0600' }, 'the device node is root’s, 0600, as containerd creates it by default');
      t.match(nonroot.ls[0] ?? '', /^brw------- 1 root root 7, \d+ /, 'ls -l shows brw------- root root');
      t.match(nonroot.read, { ok: false, code: 'EACCES', message: `EACCES: permission denied, open '${DEVICE}'` }, 'opening for reading fails: EACCES');
      t.match(nonroot.openRw, { ok: false, code: 'EACCES' }, 'and for writing');
      const agentCheck = nonroot.agent.filter((entry) => entry.available);
      if (agentCheck.length === 0) t.comment(`the image has no agent/block/device.js check: ${nonroot.agent[0]?.message}`);
      for (const entry of agentCheck) {
        t.equal(entry.ok, false, `the agent's check refuses the ${entry.role}`);
        t.match(entry.message ?? '', /migration_rsync_privileged: true/, `and names the setting: ${entry.message}`);
        t.match(entry.message ?? '', /EACCES; owner 0:0, mode 0600; we run as uid 1001, groups 0/, 'with the owner, mode and user');
      }

      const withFsGroup = pods['nonroot-fsgroup']!;
      t.same(
        withFsGroup.user.groups.sort((a, b) => a - b),
        [0, 6, 2000],
        'fsGroup and supplementalGroups are the pod’s groups',
      );
      t.same(withFsGroup.stat, { block: true, uid: 0, gid: 0, mode: '0600' }, 'but not the device’s: still root 0600');
      t.match(withFsGroup.read, { ok: false, code: 'EACCES' }, 'EACCES with fsGroup too');

      const bare = pods['root-nocaps']!;
      t.same(bare.read, { ok: true, bytes: HASHED, sha256: hostHash }, 'root with no capabilities at all reads it too (owner bits)');
      t.same(bare.openRw, { ok: true }, 'and opens it read-write');

      // (c) The pod's node is a copy of the host's: /dev/loopN here is root:root 0600 because nothing
      // (no udev) changed what devtmpfs made. With udev's usual root:disk 0660 instead, group disk (6)
      // in supplementalGroups (src_/target_supplemental_groups) is enough for a non-root agent.
      const host = statSync(volume.device);
      t.teardown(() => {
        chownSync(volume!.device, host.uid, host.gid);
        chmodSync(volume!.device, host.mode & 0o7777);
      });
      t.same(
        { uid: host.uid, gid: host.gid, mode: (host.mode & 0o7777).toString(8) },
        { uid: 0, gid: 0, mode: '600' },
        'the host’s /dev/loopN is root:root 0600 (devtmpfs, no udev)',
      );
      chownSync(volume.device, 0, DISK_GID);
      chmodSync(volume.device, 0o660);
      at = Date.now();
      const udev = await podsOnDevice(cluster, ns, 'disk', {
        'udev-nonroot': NON_ROOT,
        'udev-disk-group': { pod: { ...NON_ROOT.pod, supplementalGroups: [DISK_GID] }, container: NON_ROOT.container },
      });
      t.comment(`with the host's node root:disk 0660: two pods in ${Date.now() - at} ms; ls -l: ${udev['udev-nonroot']!.ls[0]}`);
      t.same(udev['udev-nonroot']!.stat, { block: true, uid: 0, gid: DISK_GID, mode: '0660' }, 'the pod’s node follows the host’s owner and mode');
      t.match(udev['udev-nonroot']!.read, { ok: false, code: 'EACCES' }, 'dvm’s non-root default (groups 0) still cannot read');
      t.same(udev['udev-disk-group']!.read, { ok: true, bytes: HASHED, sha256: hostHash }, 'with supplementalGroups [6] the non-root user reads it');
      t.same(udev['udev-disk-group']!.openRw, { ok: true }, 'and may open it read-write');
      for (const entry of udev['udev-disk-group']!.agent.filter((e) => e.available)) t.equal(entry.ok, true, `the agent's check accepts the ${entry.role}`);

      at = Date.now();
      await cluster.kubectl(['delete', 'pods', '--all', '-n', ns, '--grace-period=1', '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
      t.comment(`pods deleted: ${Date.now() - at} ms`);
    });
    // The subtest's teardown has run: nothing of it may be left.
    if (volume) {
      const at = Date.now();
      await assertGone(t, cluster, volume);
      t.comment(`checked after teardown in ${Date.now() - at} ms`);
    }
  });

  t.test('a failing test still removes its pod, PVC, PV, loop device and class', async (t) => {
    const ns = uniqueName('blkfail');
    await cluster.createNamespace(ns, 'baseline');
    t.teardown(() => cluster.deleteNamespace(ns, false));
    // What tap does with t.teardown, on a test that throws: run the registered functions last-first.
    const registered: Array<() => unknown> = [];
    const fake: Teardowns = { teardown: (fn) => registered.push(fn) };
    let volume: BlockVolume | undefined;
    await t.rejects(async () => {
      const volumes = await blockVolumes(fake, cluster, 'blkfail');
      volume = await volumes.boundPvc(ns, 'doomed', 8 * MiB);
      // A pod still running on it when the test fails: the teardown must take it away first.
      await cluster.apply(probePod('holder', 'doomed', PRIVILEGED, true), ns);
      await waitForLog(cluster, ns, 'holder', /"read"/);
      throw new Error('the test failed here');
    }, /the test failed here/);
    const at = Date.now();
    for (const fn of registered.reverse()) await fn();
    t.comment(`teardown with a running pod on the device: ${Date.now() - at} ms`);
    t.ok(volume, 'a volume was made before the failure');
    if (volume) await assertGone(t, cluster, volume);
  });

  t.test('loop devices of a killed test process are swept', async (t) => {
    const dead = spawnSync('true').pid;
    t.ok(dead && dead > 0, `a pid that has exited (${dead})`);
    const dir = mkdtempSync(join(tmpdir(), `dvm-loop-${dead}-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'disk.img');
    spawnSync('truncate', ['-s', String(MiB), file]);
    const device = spawnSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).stdout.trim();
    t.match(device, /^\/dev\/loop\d+$/, `a loop device as a killed run would have left it (${device})`);
    const swept = await sweepStaleLoopDevices();
    t.ok(swept.includes(device), `swept: ${swept.join(', ')}`);
    t.same(
      (await listLoopDevices()).filter((entry) => entry['back-file']?.startsWith(file)),
      [],
      'detached',
    );
    t.notOk(existsSync(dir), 'its directory removed');
  });

  t.teardown(() => console.error(`# block-volume-infra: ${Date.now() - started} ms in all`));
}
