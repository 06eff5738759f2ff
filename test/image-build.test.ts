// The image images/build.sh writes (an OCI archive, no registry): its config says what images/image.env
// says, its blobs are intact, and its rootfs, mounted read-only, runs the agent as the image's user.
// Skips without the archive (build it with images/build.sh, ~1-3 min fresh, seconds cached), or
// unless root (owners in the layers, chroot). DVM_IMAGE_BUILD=1 builds the archive first when it is missing;
// DVM_IMAGE_ARCHIVE / DVM_IMAGE_CACHE point at another one, DVM_IMAGE_REF at another reference.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const repo = new URL('..', import.meta.url).pathname;

/** images/image.env: KEY=value or KEY="value" lines (images/check.sh enforces the format). */
function readDescription(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(repo, 'images/image.env'), 'utf8').split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(?:"([^"]*)"|(\S*))$/.exec(line);
    if (match?.[1]) out[match[1]] = match[2] ?? match[3] ?? '';
  }
  return out;
}
const image = readDescription();
const words = (key: string): string[] => (image[key] ?? '').split(' ').filter(Boolean);

const archive = process.env.DVM_IMAGE_ARCHIVE ?? join(process.env.DVM_IMAGE_CACHE ?? '/var/cache/dvm-image', 'dvm-agent.oci.tar');
const ref = process.env.DVM_IMAGE_REF ?? image.IMAGE_REF ?? '';
const isRoot = process.getuid?.() === 0;

async function ensureArchive(): Promise<string | false> {
  if (!isRoot) return 'needs root: the layers carry root-owned files and the agent runs under chroot';
  if (existsSync(archive)) return false;
  if (process.env.DVM_IMAGE_BUILD !== '1') return `no image archive at ${archive}; build it with images/build.sh (or set DVM_IMAGE_BUILD=1)`;
  await run('bash', [join(repo, 'images/build.sh'), '--out', archive], { maxBuffer: 16 << 20, timeout: 840_000 });
  return false;
}
const skip = await ensureArchive();

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}
interface ImageConfig {
  architecture: string;
  os: string;
  config: { User?: string; Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; WorkingDir?: string };
  rootfs: { type: string; diff_ids: string[] };
}

t.test('the built image', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'dvm-image-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const layout = join(work, 'oci');
  mkdirSync(layout);
  await run('tar', ['-xf', archive, '-C', layout]);
  const blob = (digest: string): string => join(layout, 'blobs', ...digest.split(':'));
  const verified = (d: Descriptor): Buffer => {
    const data = readFileSync(blob(d.digest));
    t.equal(data.length, d.size, `${d.digest} has its size`);
    t.equal(`sha256:${createHash('sha256').update(data).digest('hex')}`, d.digest, `${d.digest} has its digest`);
    return data;
  };

  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  t.equal(index.manifests.length, 1, 'one image in the archive');
  const top = index.manifests[0]!;
  t.equal(top.annotations?.['io.containerd.image.name'], ref, 'named for containerd (ctr images import)');
  t.equal(top.annotations?.['org.opencontainers.image.ref.name'], ref.slice(ref.lastIndexOf(':') + 1), 'tagged for OCI tools');
  const manifest = JSON.parse(verified(top).toString()) as { config: Descriptor; layers: Descriptor[] };
  const config = JSON.parse(verified(manifest.config).toString()) as ImageConfig;
  t.equal(config.os, 'linux');
  t.equal(top.platform?.architecture, config.architecture, 'the index names the platform');
  t.equal(config.rootfs.diff_ids.length, manifest.layers.length, 'a diff_id per layer');

  t.test('config: what images/image.env says', async (t) => {
    t.equal(config.config.User, `${image.USER_UID}:${image.USER_GID}`, 'User');
    t.equal(config.config.User, '1001:0', 'User 1001:0');
    t.same(config.config.Entrypoint, words('ENTRYPOINT'), 'Entrypoint');
    t.same(config.config.Entrypoint, ['dvm-agent'], 'Entrypoint dvm-agent');
    t.same(config.config.Cmd, words('CMD'), 'Cmd');
    t.same(config.config.Env, [...words('BASE_ENV'), ...words('IMAGE_ENV')], "Env: PATH, then the Containerfile's ENV");
    t.equal(config.config.WorkingDir, image.WORKDIR, 'WorkingDir');
  });

  // Unpack the layers in order (build.sh writes no whiteouts; a layer with one would need real OCI unpacking).
  const rootfs = join(work, 'rootfs');
  mkdirSync(rootfs);
  let unpacked = 0;
  for (const layer of manifest.layers) {
    t.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    verified(layer);
    const { stdout } = await run('tar', ['-tzf', blob(layer.digest)], { maxBuffer: 64 << 20 });
    t.notOk(
      stdout.split('\n').some((path) => /(^|\/)\.wh\./.test(path)),
      `${layer.digest.slice(0, 19)} has no whiteouts`,
    );
    await run('tar', ['-xzf', blob(layer.digest), '-C', rootfs, '--numeric-owner']);
  }
  const du = await run('du', ['-sb', rootfs]);
  unpacked = Number(du.stdout.split('\t')[0]);
  t.comment(
    `image: ${(statSync(archive).size / 1048576).toFixed(0)} MiB archive, ${(unpacked / 1048576).toFixed(0)} MiB unpacked, ${manifest.layers.length} layers`,
  );
  t.ok(unpacked < 300 * 1048576, `unpacked below 300 MiB (is ${(unpacked / 1048576).toFixed(0)} MiB)`);

  t.test('rootfs: rsync, node, the agent, the user, trimmed', async (t) => {
    const at = (path: string): string => join(rootfs, path);
    for (const path of ['usr/bin/rsync', 'usr/local/bin/node', 'usr/local/bin/dvm-agent']) {
      t.ok(existsSync(at(path)) && (statSync(at(path)).mode & 0o111) !== 0, `${path} is executable`);
    }
    t.equal(statSync(at('usr/local/bin/dvm-agent')).mode & 0o7777, 0o755, 'the wrapper is 0755');
    t.equal(readFileSync(at('usr/local/bin/dvm-agent'), 'utf8'), readFileSync(join(repo, 'images/dvm-agent'), 'utf8'), 'the wrapper is images/dvm-agent');
    for (const path of [
      'opt/dvm/dist/agent/main.js',
      'opt/dvm/dist/agent/dvm-agent.js',
      'opt/dvm/package.json',
      'opt/dvm/node_modules/node-pty/package.json',
      'etc/ssl/certs/ca-certificates.crt',
    ]) {
      t.ok(existsSync(at(path)), `${path} is there`);
    }
    t.notOk(existsSync(at('opt/dvm/node_modules/@kubernetes')), "the controller's dependencies are not (images/prune-modules.mjs)");
    const passwd = readFileSync(at('etc/passwd'), 'utf8').split('\n');
    t.ok(
      passwd.includes(`${image.USER_NAME}:x:${image.USER_UID}:${image.USER_GID}:dvm agent:${image.USER_HOME}:${image.USER_SHELL}`),
      'the user is in /etc/passwd',
    );
    // chmod -R g=u: the group (0) may do what the owner may; everything is root-owned.
    const notGroupLikeOwner: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const stat = lstatSync(path);
        if (stat.isSymbolicLink()) continue;
        if (((stat.mode >> 3) & 7) !== ((stat.mode >> 6) & 7) || stat.uid !== 0 || stat.gid !== 0) notGroupLikeOwner.push(path.slice(rootfs.length));
        if (stat.isDirectory()) walk(path);
      }
    };
    walk(at(image.WORKDIR ?? 'opt/dvm'));
    t.same(notGroupLikeOwner.slice(0, 5), [], `everything under ${image.WORKDIR} is root:0 with group = owner permissions`);
    for (const dir of ['usr/share/man', 'usr/share/locale', 'usr/share/info', 'var/lib/apt/lists', 'var/cache/apt']) {
      t.same(existsSync(at(dir)) ? readdirSync(at(dir)) : [], [], `${dir} is empty`);
    }
    t.same(
      readdirSync(at('usr/share/doc')).flatMap((pkg) => readdirSync(at(`usr/share/doc/${pkg}`)).filter((f) => f !== 'copyright')),
      [],
      'docs: only copyright files',
    );
  });

  t.test("the agent runs in the rootfs, read-only, as the image's user", async (t) => {
    // A private mount namespace: the read-only bind, /proc, /dev and a /tmp vanish with it.
    const script = `
      set -e
      mount --bind "$1" "$1"
      mount -o remount,bind,ro "$1"
      mount -t proc proc "$1/proc"
      mount --rbind /dev "$1/dev"
      mount -t tmpfs -o mode=1777 tmpfs "$1/tmp"
      shift 2
      exec chroot --userspec="$USERSPEC" "$ROOT" /usr/bin/env -i $IMAGE_ENVIRONMENT sh -c "cd \\"$WORKDIR\\" && exec \\"\\$@\\"" sh "$@"`;
    const inImage = async (...argv: string[]): Promise<{ stdout: string; stderr: string }> =>
      run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', rootfs, '--', ...argv], {
        env: {
          ...process.env,
          ROOT: rootfs,
          USERSPEC: config.config.User ?? '',
          IMAGE_ENVIRONMENT: (config.config.Env ?? []).join(' '),
          WORKDIR: config.config.WorkingDir ?? '/',
        },
      });
    const help = await inImage(...(config.config.Entrypoint ?? []), ...(config.config.Cmd ?? []));
    t.match(help.stdout, /server/, "the entrypoint with the default command prints the agent's help");
    t.match(help.stdout, /client/);
    const direct = await inImage('node', `${image.WORKDIR}/dist/agent/main.js`, '--help');
    t.match(direct.stdout, /dvm transfer agent/, "node runs the agent's main.js --help");
    const id = await inImage('id', '-u');
    t.equal(id.stdout.trim(), image.USER_UID, "as the image's uid");
    const node = await inImage('node', '-p', 'process.versions.node + " " + process.env.HOME + " " + process.env.NODE_ENV');
    t.match(node.stdout.trim(), new RegExp(`^${image.NODE_MAJOR}\\.\\d+\\.\\d+ /tmp production$`), `node ${image.NODE_MAJOR} with the image's env`);
    const rsync = await inImage('rsync', '--version');
    t.match(rsync.stdout, /rsync\s+version 3\./, 'rsync runs');
    const pty = await inImage(
      'node',
      '--input-type=module',
      '-e',
      `
      const pty = await import('node-pty'); let out = '';
      const child = pty.spawn('rsync', ['--version'], {});
      child.onData((d) => { out += d; });
      child.onExit(({ exitCode }) => { console.log(exitCode, /rsync +version/.test(out)); });`,
    );
    t.equal(pty.stdout.trim(), '0 true', 'node-pty (native, built on this machine) runs rsync under a pty');
    await t.rejects(inImage('sh', '-c', `: > ${image.WORKDIR}/x`), 'the rootfs is read-only here, like readOnlyRootFilesystem');
  });
});

t.test('images/build.sh refuses bad arguments before it builds anything', async (t) => {
  const refuse = async (args: string[], message: RegExp): Promise<void> => {
    const error = await run('bash', [join(repo, 'images/build.sh'), ...args]).then(
      () => undefined,
      (caught: { code: number; stderr: string }) => caught,
    );
    t.not(error?.code ?? 0, 0, `${args.join(' ')} fails`);
    t.match(error?.stderr, message);
  };
  await refuse(['--ref', 'Not A Ref'], /--ref Not A Ref is not a reference with a tag/);
  await refuse(['--no-such-flag'], /unknown argument --no-such-flag/);
  if (isRoot) await refuse(['--out', join(repo, 'dvm-agent.oci.tar')], /is inside the repository/);
});
