// Faults on the real cluster: the server pod deleted mid-copy, more client pods than the node can
// run at once, an HTTP CONNECT proxy with BasicAuth in the way, and SIGINT to dvm mid-copy.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { startTinyproxy } from '../support/tinyproxy.js';
import {
  differences,
  e2eCluster,
  explain,
  IMAGE_UID,
  leftovers,
  migrate,
  resultsOf,
  scenario,
  secretFile,
  settingsFile,
  sourcePvc,
  specFile,
} from './support.js';

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  const MiB = 1024 * 1024;

  t.test('the server pod deleted mid-copy is replaced and the copy completes', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'srvdel');
    const tree = await sourcePvc(cluster, src, 'data', { seed: 41, bigFileBytes: 48 * MiB, chownTo: IMAGE_UID });
    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', rsync_fs_group: 2000, rsync_opt_bwlimit: 4096 });
    const run = migrate(cluster, specFile(work.dir, [{ namespace: src, name: 'data', targetNamespace: dst }]), settings);
    await run.waitFor((event) => event.type === 'progress' && event.bytes > 2 * MiB);
    const pods = await cluster.kubectl(['get', 'pods', '-n', dst, '-l', 'purpose=rsync', '-o', 'name']);
    t.ok(pods.trim(), `server pod found (${pods.trim()})`);
    await cluster.kubectl(['delete', '-n', dst, ...pods.trim().split('\n'), '--wait=false']);
    const { code } = await run.done;
    t.equal(code, 0, `exit 0 (${explain(run)})`);
    t.ok(
      run.events.some((event) => event.type === 'attempt'),
      'the client saw its connection go and retried',
    );
    t.ok(
      run.stderr.some((line) => /server pod .* was deleted; creating it again/.test(line)),
      'dvm said it replaced the server pod',
    );
    t.equal(await differences(tree, (await cluster.waitForPvcBound(dst, 'data')).hostPath, { owners: false, rootAttributes: false }), '', 'identical');
  });

  t.test('more client pods than the node can run at once all finish', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'busy');
    const names = ['p1', 'p2', 'p3', 'p4', 'p5'];
    const trees = await Promise.all(names.map((name, index) => sourcePvc(cluster, src, name, { seed: 50 + index, files: 30, chownTo: IMAGE_UID })));
    // Two CPUs: the server (400m) and two clients of 700m fit; the others wait as Unschedulable.
    const settings = settingsFile(work.dir, {
      rsync_endpoint_type: 'ClusterIP',
      rsync_fs_group: 2000,
      source_rsync_pod_cpu_requests: '700m',
      rsync_max_concurrent_clients: 5,
      rsync_opt_bwlimit: 256,
    });
    const run = migrate(
      cluster,
      specFile(
        work.dir,
        names.map((name) => ({ namespace: src, name, targetNamespace: dst })),
      ),
      settings,
    );
    const { code } = await run.done;
    t.equal(code, 0, `exit 0 (${explain(run)})`);
    const waited = await cluster.kubectl(['get', 'events', '-n', src, '--field-selector', 'reason=FailedScheduling', '-o', 'name']);
    t.ok(waited.trim().length > 0, 'some client pods did wait for room on the node (FailedScheduling events)');
    for (const [index, name] of names.entries()) {
      t.equal(resultsOf(run)[`${src}/${name}`]?.status, 'Succeeded', `${name} Succeeded`);
      t.equal(
        await differences(trees[index]!, (await cluster.waitForPvcBound(dst, name)).hostPath, { owners: false, rootAttributes: false }),
        '',
        `${name} identical`,
      );
    }
  });

  t.test('through tinyproxy with BasicAuth to a Route, the password and the token from files', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'proxy');
    const password = 'pr0xy-e2e-s3cret';
    const proxy = await startTinyproxy({ user: 'dvm', password, listen: cluster.nodeIP, allow: [cluster.podCIDR], nameserver: cluster.dnsServer });
    t.teardown(() => proxy.stop());
    const tree = await sourcePvc(cluster, src, 'data', { seed: 61, chownTo: IMAGE_UID });
    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'Route', rsync_fs_group: 2000 });
    // Neither secret on the command line, where every user of the machine sees it in ps.
    const token = `tk-${randomBytes(16).toString('hex')}`;
    const proxyFile = secretFile(work.dir, 'proxy.url', proxy.url);
    const tokenFile = secretFile(work.dir, 'token', token);
    const run = migrate(cluster, specFile(work.dir, [{ namespace: src, name: 'data', targetNamespace: dst }]), settings, [
      '--proxy-file',
      proxyFile,
      '--token-file',
      tokenFile,
      '--listen',
      '127.0.0.1:0',
    ]);
    await run.waitFor((event) => event.type === 'progress');
    const argv = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8');
    t.notOk(argv.includes(password) || argv.includes(token), 'neither secret is in the argv of dvm');
    const { code } = await run.done;
    t.equal(code, 0, `exit 0 (${explain(run)})`);
    t.ok(
      proxy.connects().some((target) => target.endsWith(`:${cluster.routerPort}`)),
      `the client went through the proxy (${proxy.connects().join(', ')})`,
    );
    t.equal(await differences(tree, (await cluster.waitForPvcBound(dst, 'data')).hostPath, { owners: false, rootAttributes: false }), '', 'identical');
    const output = JSON.stringify(run.events) + run.stderr.join('\n');
    t.notOk(output.includes(password) || output.includes(token), 'neither secret appears in an event or a log line');
  });

  t.test('SIGINT mid-copy: exit 130 and nothing of the run left', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'sigint');
    await sourcePvc(cluster, src, 'data', { seed: 71, bigFileBytes: 32 * MiB, chownTo: IMAGE_UID });
    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'NodePort', rsync_fs_group: 2000, rsync_opt_bwlimit: 2048 });
    const run = migrate(cluster, specFile(work.dir, [{ namespace: src, name: 'data', targetNamespace: dst }]), settings);
    await run.waitFor((event) => event.type === 'progress' && event.bytes > MiB);
    run.child.kill('SIGINT');
    const { code } = await run.done;
    t.equal(code, 130, `exit 130 (${explain(run)})`);
    t.same(await leftovers(cluster, src, dst), [], 'no pod, Secret, Service or Route of the run is left');
  });

  t.test('root pods into namespaces that enforce restricted: one line naming Pod Security, nothing left', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'psa');
    await sourcePvc(cluster, src, 'data', { seed: 81, files: 20 });
    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', migration_rsync_privileged: true });
    const run = migrate(cluster, specFile(work.dir, [{ namespace: src, name: 'data', targetNamespace: dst }]), settings);
    const { code } = await run.done;
    t.equal(code, 1, 'the run failed');
    const summary = run.events.find((event) => (event as { type: string }).type === 'summary') as { message?: string } | undefined;
    const said = [summary?.message ?? '', ...run.stderr].join('\n');
    t.match(said, /violates PodSecurity "restricted:latest"/, "the API server's reason");
    t.notMatch(said, /HTTP-Code:|Headers:|audit-id/, "not the client library's dump");
    t.same(await leftovers(cluster, src, dst), [], 'nothing of the run is left');
  });

  t.test('one cluster on both sides: status lists each object once; a PVC into itself is refused', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'same');
    await sourcePvc(cluster, src, 'data', { seed: 91, bigFileBytes: 8 * MiB, chownTo: IMAGE_UID });
    const self = migrate(
      cluster,
      specFile(work.dir, [{ namespace: src, name: 'data', targetNamespace: src }]),
      settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP' }),
    );
    t.equal((await self.done).code, 2, 'bad input');
    t.match(self.stderr.join('\n'), /target PVC .*data is the PVC itself on the same cluster/, 'named');
    t.same(await leftovers(cluster, src), [], 'nothing created');

    const settings = settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP', rsync_fs_group: 2000, rsync_opt_bwlimit: 1024 });
    const run = migrate(cluster, specFile(work.dir, [{ namespace: src, name: 'data', targetNamespace: dst }]), settings);
    await run.waitFor((event) => event.type === 'progress' && event.bytes > 0);
    const said = [...run.events.map((event) => (event as { message?: string }).message ?? ''), ...run.stderr].join('\n');
    const runId = /run (\S+): removing objects of earlier runs/.exec(said)?.[1] ?? '';
    t.ok(runId, `the run id (${runId})`);
    const status = JSON.parse(
      await new Promise<string>((resolveStatus, reject) => {
        execFile(
          process.execPath,
          [
            'dist/controller/cli/dvm.js',
            'status',
            '--run',
            runId,
            '--json',
            '--source-kubeconfig',
            cluster.kubeconfig,
            '--destination-kubeconfig',
            cluster.kubeconfig,
          ],
          (error, stdout) => (error ? reject(error) : resolveStatus(stdout)),
        );
      }),
    ) as { sameCluster: boolean; source: Array<{ kind: string; namespace: string; name: string }>; destination: unknown[] };
    t.equal(status.sameCluster, true, 'status knows it is one cluster');
    const names = status.source.map((object) => `${object.kind} ${object.namespace}/${object.name}`);
    t.ok(
      names.some((name) => name.startsWith('Pod ')),
      `the run's pods are listed (${names.length} objects)`,
    );
    t.equal(new Set(names).size, names.length, 'each object once');
    t.same(status.destination, [], 'not again as destination');
    t.equal((await run.done).code, 0, `and the run completes (${explain(run)})`);
  });

  t.test("non-root without an fsGroup on plain Kubernetes: the server's own reason, not just CrashLoopBackOff", async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'nofsg');
    await sourcePvc(cluster, src, 'data', { seed: 95, files: 20, chownTo: IMAGE_UID });
    const run = migrate(
      cluster,
      specFile(work.dir, [{ namespace: src, name: 'data', targetNamespace: dst }]),
      settingsFile(work.dir, { rsync_endpoint_type: 'ClusterIP' }),
    );
    t.equal((await run.done).code, 1, 'the run failed');
    const said = [...run.events.map((event) => (event as { message?: string }).message ?? ''), ...run.stderr].join('\n');
    t.match(said, /will not start: CrashLoopBackOff/, 'the pod state');
    t.match(said, /last exit code 1: .*is not writable by uid 1001.*rsync_fs_group/, 'and why, from the container itself');
    t.same(await leftovers(cluster, src, dst), [], 'nothing of the run is left');
  });
}
