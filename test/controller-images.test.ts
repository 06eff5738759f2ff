// images/check.sh passes on the real Containerfile, catches one that copies a missing file, and one that
// disagrees with images/image.env (the description images/build.sh builds from).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { AGENT_NODE_FLAGS } from '../contract/node-flags.js';

const run = promisify(execFile);
const script = new URL('../images/check.sh', import.meta.url).pathname;

t.test('the Containerfile checks pass', async (t) => {
  const { stdout } = await run('bash', [script]);
  t.match(stdout, /images\/check\.sh: ok/);
});

t.test('a COPY of a missing file fails the check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-image-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broken = join(dir, 'Containerfile');
  const original = readFileSync(new URL('../images/Containerfile', import.meta.url), 'utf8');
  writeFileSync(broken, original.replace('COPY tsconfig.base.json ./', 'COPY tsconfig.base.json no-such-file.json ./'));
  const error = await run('bash', [script], { env: { ...process.env, CONTAINERFILE: broken } }).then(
    () => undefined,
    (caught: { code: number; stderr: string }) => caught,
  );
  t.equal(error?.code, 1);
  t.match(error?.stderr, /copies no-such-file\.json, which does not exist/);
});

t.test("the image wrapper starts node with the agents' flags (contract/node-flags.ts)", async (t) => {
  const wrapper = readFileSync(new URL('../images/dvm-agent', import.meta.url), 'utf8');
  const exec = wrapper.split('\n').find((line) => line.startsWith('exec node ')) ?? '';
  t.equal(
    exec
      .split(' ')
      .slice(2, 2 + AGENT_NODE_FLAGS.length)
      .join(' '),
    AGENT_NODE_FLAGS.join(' '),
    exec,
  );
});

// images/image.env is the one description of the image (images/build.sh builds from it); a
// Containerfile that says something else about any part of it fails images/check.sh.
const containerfile = readFileSync(new URL('../images/Containerfile', import.meta.url), 'utf8');
const drifts: Array<[string, string, string, RegExp]> = [
  ['user', 'USER 1001:0', 'USER 1002:0', /USER 1002:0; images\/image\.env says 1001:0/],
  ['entrypoint', 'ENTRYPOINT ["dvm-agent"]', 'ENTRYPOINT ["node", "dvm-agent"]', /ENTRYPOINT \["node", "dvm-agent"\]; .* says \["dvm-agent"\]/],
  ['cmd', 'CMD ["--help"]', 'CMD ["server"]', /CMD \["server"\]; .* says \["--help"\]/],
  ['env', 'NODE_ENV=production', 'NODE_ENV=development', /ENV HOME=\/tmp NODE_ENV=development .* says IMAGE_ENV=/],
  ['packages', 'install -y --no-install-recommends rsync ca-certificates', 'install -y --no-install-recommends rsync', /installs Debian packages 'rsync'/],
  ['copied paths', 'COPY --from=build /src/dist/agent ./dist/agent', 'COPY --from=build /src/dist ./dist', /copies '.*dist:\/opt\/dvm\/dist.*' into the image/],
  ['user account', '--shell /usr/sbin/nologin', '--shell /bin/bash', /useradd .*--shell \/bin\/bash dvm; .* says useradd/],
  ['workdir', 'WORKDIR /opt/dvm', 'WORKDIR /app', /WORKDIR \/app; .* says WORKDIR=\/opt\/dvm/],
  ['base image', 'node:20-bookworm-slim', 'node:22-bookworm-slim', /builds from .*node:22-bookworm-slim, but .* says Node 20 on Debian bookworm/],
];
for (const [what, from, to, message] of drifts) {
  t.test(`a Containerfile that disagrees with images/image.env fails the check: ${what}`, async (t) => {
    t.ok(containerfile.includes(from), `the Containerfile has ${from}`);
    const dir = mkdtempSync(join(tmpdir(), 'dvm-image-drift-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const changed = join(dir, 'Containerfile');
    const at = containerfile.lastIndexOf(from); // the final stage's, where a line occurs in several stages
    writeFileSync(changed, containerfile.slice(0, at) + to + containerfile.slice(at + from.length));
    const error = await run('bash', [script], { env: { ...process.env, CONTAINERFILE: changed } }).then(
      () => undefined,
      (caught: { code: number; stderr: string }) => caught,
    );
    t.equal(error?.code, 1);
    t.match(error?.stderr, message);
  });
}

t.test('images/image.env holds plain KEY=value lines only (it is sourced by bash and parsed by the tests)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-image-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const changed = join(dir, 'image.env');
  const original = readFileSync(new URL('../images/image.env', import.meta.url), 'utf8');
  writeFileSync(changed, original.replace('USER_HOME=/tmp', 'USER_HOME=$TMPDIR'));
  const error = await run('bash', [script], { env: { ...process.env, IMAGE_DESCRIPTION: changed } }).then(
    () => undefined,
    (caught: { code: number; stderr: string }) => caught,
  );
  t.equal(error?.code, 1);
  t.match(error?.stderr, /not KEY=value or KEY="value": \d+:USER_HOME=\$TMPDIR/);
});
