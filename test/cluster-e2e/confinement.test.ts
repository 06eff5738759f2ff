// The holder of one client certificate, against a real server pod (docs/confinement.md). While a
// migration of two PVCs into one destination namespace runs, the test takes PVC "a"'s client
// certificate (from its Secret, as anyone who can read the source namespace's Secrets or who runs
// code in a's client pod could) and points a real rsync at the server pod through a TLS bridge:
// writing PVC "b", reading or listing PVC "a", naming a path outside "a", and options that write
// outside the volume must all fail, and both copies must still end identical to their sources. In
// the default non-root mode (Pod Security restricted) and in root mode (baseline).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { LABEL_RUN } from '../../controller/manifests/labels.js';
import { clientConfigSecretName, clientTlsSecretName } from '../../controller/manifests/names.js';
import type { TestCluster } from '../support/cluster.js';
import { differences, e2eCluster, explain, IMAGE_UID, migrate, resultsOf, scenario, settingsFile, sourcePvc, specFile } from './support.js';

const MiB = 1024 * 1024;

interface StolenClient {
  module: string;
  serverName: string;
  tls: { ca: string; cert: string; key: string };
}

/** PVC `name`'s client identity as its Secrets hold it: the module it writes, the server's name,
 * its certificate and key. */
async function stealClient(cluster: TestCluster, namespace: string, name: string): Promise<StolenClient> {
  const runId = (await cluster.kubectl(['get', 'secrets', '-n', namespace, '-l', LABEL_RUN, '-o', `jsonpath={.items[0].metadata.labels.${LABEL_RUN}}`])).trim();
  const pair = { source: { namespace, name }, target: { namespace, name }, verify: false };
  const secret = async (secretName: string): Promise<Record<string, string>> => {
    const data = (await cluster.kubectlJson<{ data: Record<string, string> }>(['get', 'secret', secretName, '-n', namespace])).data;
    return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  };
  const config = parseYaml((await secret(clientConfigSecretName(runId, pair)))['agent.yaml'] ?? '') as { module: string; server: { serverName: string } };
  const tls = await secret(clientTlsSecretName(runId, pair));
  return {
    module: config.module,
    serverName: config.server.serverName,
    tls: { ca: tls['ca.crt'] ?? '', cert: tls['tls.crt'] ?? '', key: tls['tls.key'] ?? '' },
  };
}

/** A loopback port that relays each connection into TLS with the stolen certificate: what an
 * attacker would put in front of an ordinary rsync. */
async function tlsBridge(host: string, port: number, stolen: StolenClient): Promise<{ port: number; server: Server }> {
  const server = createServer((local) => {
    const remote = connect({ host, port, servername: stolen.serverName, ca: stolen.tls.ca, cert: stolen.tls.cert, key: stolen.tls.key });
    const closeBoth = (): void => {
      local.destroy();
      remote.destroy();
    };
    local.on('error', closeBoth);
    remote.on('error', closeBoth);
    local.pipe(remote).pipe(local);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

function rsync(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('rsync', ['--contimeout=20', '--timeout=30', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  for (const mode of ['non-root', 'root'] as const) {
    t.test(`${mode}: PVC a's client certificate reaches nothing but PVC a's copy`, async (t) => {
      const { work, src, dst } = await scenario(t, cluster, mode === 'root' ? 'atkroot' : 'attack', mode === 'root' ? 'baseline' : 'restricted');
      const owner = mode === 'root' ? {} : { chownTo: IMAGE_UID };
      const treeA = await sourcePvc(cluster, src, 'a', { seed: 91, bigFileBytes: 12 * MiB, ...owner });
      const treeB = await sourcePvc(cluster, src, 'b', { seed: 92, bigFileBytes: 12 * MiB, ...owner });
      // Slow enough that both copies are still running while the test attacks.
      const settings = settingsFile(work.dir, {
        rsync_endpoint_type: 'ClusterIP',
        rsync_opt_bwlimit: 512,
        rsync_max_concurrent_clients: 2,
        ...(mode === 'root' ? { migration_rsync_privileged: true } : { rsync_fs_group: 2000 }),
      });
      const run = migrate(
        cluster,
        specFile(work.dir, [
          { namespace: src, name: 'a', targetNamespace: dst },
          { namespace: src, name: 'b', targetNamespace: dst },
        ]),
        settings,
      );
      await run.waitFor((event) => event.type === 'progress' && event.pvc === `${src}/a` && event.bytes > MiB);

      const stolen = await stealClient(cluster, src, 'a');
      const moduleB = (await stealClient(cluster, src, 'b')).module;
      const serverIP = (await cluster.kubectl(['get', 'pods', '-n', dst, '-l', 'purpose=rsync', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
      t.ok(serverIP, `the server pod's address (${serverIP})`);
      const bridge = await tlsBridge(serverIP, 2222, stolen);
      t.teardown(() => bridge.server.close());
      const url = (path: string): string => `rsync://127.0.0.1:${bridge.port}/${path}`;
      const evil = join(work.dir, 'evil');
      mkdirSync(evil);
      writeFileSync(join(evil, 'planted'), 'written with a stolen certificate\n');

      const intoB = await rsync(['-r', `${evil}/`, url(`${moduleB}/`)]);
      t.not(intoB.code, 0, `writing PVC b fails (${intoB.output})`);
      t.match(intoB.output, /certificate is not for module/, 'refused for the module, by the server');
      const listing = await rsync([url(`${stolen.module}/`)]);
      t.not(listing.code, 0, `listing PVC a fails (${listing.output})`);
      const pulled = join(work.dir, 'pulled');
      const pull = await rsync(['-r', url(`${stolen.module}/`), `${pulled}/`]);
      t.not(pull.code, 0, `reading PVC a fails (${pull.output})`);
      t.notOk(existsSync(pulled) && readdirSync(pulled).length > 0, 'nothing of PVC a arrived');
      const tempDir = await rsync(['-r', '--temp-dir=/tmp', `${evil}/`, url(`${stolen.module}/`)]);
      t.not(tempDir.code, 0, `--temp-dir outside the volume is refused (${tempDir.output})`);
      // A path beyond the module is not where rsync writes: the server names the destination. The
      // push itself is the certificate's right (it is PVC a's copy), so it may succeed, inside a.
      const escape = await rsync(['-r', `${evil}/`, url(`${stolen.module}/../../tmp/`)]);
      const inServer = await cluster.kubectl([
        'exec',
        '-n',
        dst,
        ...(await serverPod(cluster, dst)),
        '--',
        'node',
        '-e',
        'const fs=require("fs");console.log(["/tmp/planted","/planted","/mnt/pvc/planted"].filter((p)=>fs.existsSync(p)).join(",")||"none")',
      ]);
      t.equal(inServer.trim(), 'none', `nothing planted outside the volume in the server pod (push exit ${escape.code})`);

      const { code } = await run.done;
      t.equal(code, 0, `the migration still succeeds (${explain(run)})`);
      for (const [name, tree] of [
        ['a', treeA],
        ['b', treeB],
      ] as const) {
        t.equal(resultsOf(run)[`${src}/${name}`]?.status, 'Succeeded', `${name} Succeeded`);
        const target = (await cluster.waitForPvcBound(dst, name)).hostPath;
        if (name === 'b') t.notOk(existsSync(join(target, 'planted')), 'b: nothing planted');
        // The escaping push, if it got through, can only have landed at a's own root (and touched
        // that directory's times: it is a's certificate, after all).
        const plantedInA = name === 'a' && existsSync(join(target, 'planted'));
        if (plantedInA) rmSync(join(target, 'planted'));
        const rootAttributes = mode === 'root' && !plantedInA;
        t.equal(await differences(tree, target, { owners: mode === 'root', rootAttributes }), '', `${name}: identical to its source`);
      }
    });
  }
}

async function serverPod(cluster: TestCluster, namespace: string): Promise<string[]> {
  const name = (await cluster.kubectl(['get', 'pods', '-n', namespace, '-l', 'purpose=rsync', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  return [name, '-c', 'rsync-server'];
}
