// quiescePods on the real test cluster, with `dvm controller` running on exactly the shipped RBAC: a
// CutOver stops every workload that uses the source PVC (a Deployment, a StatefulSet, a DaemonSet,
// a CronJob and a DeploymentConfig, the last through a stand-in CRD of OpenShift's API) before its
// first client pod exists, leaves one that uses another PVC alone, keeps them stopped after it
// succeeded and gives them back, exactly as they were, when asked (the unquiesce annotation). A
// CutOver that cannot quiesce (a pod no workload owns keeps the PVC mounted) fails naming that pod,
// and gives everything back by itself; so does one deleted mid-copy.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { stringify as toYaml } from 'yaml';
import { probePod, uniqueName, type KubeObject, type TestCluster } from '../support/cluster.js';
import {
  dvmManifest,
  installCrds,
  phaseIs,
  recordClientPods,
  settingsFor,
  shippedRbacKubeconfig,
  startControllerProcess,
  transferObjectsOf,
  waitForDvm,
} from './operator-support.js';
import { createPvc, differences, e2eCluster, IMAGE_UID, scenario, sourcePvc, type Scenario } from './support.js';

const QUIESCED_BY = 'migration.openshift.io/dvm-quiesced-by';
const UNQUIESCE = 'migration.openshift.io/dvm-unquiesce';

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;
  await installCrds(cluster);
  await installDeploymentConfigCrd(cluster);

  t.test('CutOver with quiescePods: writers stopped before the copy, kept stopped, restored on request', async (t) => {
    const { work, src, dst, ctl, tree, kubeconfig, before } = await quiesceScenario(t, cluster, 'qui', { seed: 400 });
    const appPods = await recordAppPods(t, cluster, src);
    const clientPods = await recordClientPods(t, cluster, src);

    const settings = join(work.dir, 'mc.yaml');
    writeFileSync(settings, toYaml(settingsFor()));
    const controller = startControllerProcess(t, { kubeconfig, namespace: ctl, settings });
    await cluster.apply(dvmManifest(ctl, 'cutover', [{ namespace: src, name: 'data', targetNamespace: dst }], { migrationType: 'CutOver', quiescePods: true }));
    const done = await waitForDvm(cluster, ctl, 'cutover', phaseIs('Succeeded', 'Failed'));
    t.equal(done.status.phase, 'Succeeded', `Succeeded (${JSON.stringify(done.status.errors ?? [])})`);
    t.equal(await differences(tree, (await cluster.waitForPvcBound(dst, 'data')).hostPath, { owners: false, rootAttributes: false }), '', 'identical trees');
    t.ok(readFileSync(join(tree, 'spool', 'alive'), 'utf8').includes('hi'), 'the writers did write into the source PVC before');

    const firstClient = Math.min(...(clientPods.created.get('data') ?? []).map((pod) => pod.at));
    t.ok(Number.isFinite(firstClient), 'a client pod ran');
    const stillThere = [...appPods.entries()].filter(([, pod]) => pod.mountsData && (pod.goneAt ?? Infinity) > firstClient).map(([name]) => name);
    t.same(stillThere, [], 'every pod that mounted the source PVC was gone before the first client pod was created');
    t.notOk(appPods.get(before.bystanderPod)?.goneAt, 'the pod of the workload that uses another PVC kept running');

    const held = await workloadState(cluster, src);
    t.same(
      held.summary,
      {
        'Deployment/writer': { replicas: 0, quiescedBy: done.metadata.uid },
        'StatefulSet/db': { replicas: 0, quiescedBy: done.metadata.uid },
        'DaemonSet/agent': { nodeSelector: { 'migration.openshift.io/quiesce-daemonset': 'true' }, quiescedBy: done.metadata.uid },
        'CronJob/backup': { suspend: true, quiescedBy: done.metadata.uid },
        'DeploymentConfig/legacy': { replicas: 0, quiescedBy: done.metadata.uid },
        'Deployment/bystander': { replicas: 1 },
      },
      'after a CutOver that succeeded, the workloads that use the PVC stay quiesced; the other one is untouched',
    );
    t.same(
      (done.status.quiescedWorkloads ?? []).map((w: KubeObject) => `${w.kind}/${w.name}`).sort(),
      ['CronJob/backup', 'DaemonSet/agent', 'Deployment/writer', 'DeploymentConfig/legacy', 'StatefulSet/db'],
      'status.quiescedWorkloads lists them',
    );
    t.same(await transferObjectsOf(cluster, done.metadata.uid), [], 'nothing of the run left');

    await cluster.kubectl(['annotate', 'directvolumemigration', 'cutover', '-n', ctl, `${UNQUIESCE}=true`]);
    await waitForDvm(cluster, ctl, 'cutover', (dvm) => (dvm.status?.quiescedWorkloads ?? ['x']).length === 0, 60_000);
    const after = await workloadState(cluster, src);
    t.same(after.summary, before.summary, 'on request every workload is back exactly as it was (replicas, suspend, node selector; no annotation left)');
    await waitForAppPods(cluster, src, 5);
    t.pass('their pods run again');
    const events = await cluster.kubectlJson(['get', 'events', '-n', ctl, '--field-selector', 'involvedObject.name=cutover']);
    const reasons = events.items.map((event: KubeObject) => event.reason);
    t.ok(reasons.includes('Quiesced') && reasons.includes('Unquiesced'), `Events Quiesced and Unquiesced (${reasons.join(', ')})`);
    t.same(
      controller.lines.filter((line) => /forbidden|HTTP 403/i.test(line)),
      [],
      'the shipped RBAC allowed every request',
    );
  });

  t.test('a CutOver that cannot quiesce fails naming the pod in the way, and gives the workloads back', async (t) => {
    // A bare pod: nothing owns it, so nothing quiesce can scale makes it stop.
    const stray = probePod(cluster, 'stray', ['sleep', '3600'], { volumes: [{ claimName: 'data', mountPath: '/data' }] });
    const { work, src, dst, ctl, kubeconfig, before } = await quiesceScenario(t, cluster, 'quifail', { seed: 401, extra: [stray] });

    const settings = join(work.dir, 'mc.yaml');
    writeFileSync(settings, toYaml(settingsFor({ rsync_server_ready_timeout_seconds: 15 })));
    startControllerProcess(t, { kubeconfig, namespace: ctl, settings });
    await cluster.apply(dvmManifest(ctl, 'blocked', [{ namespace: src, name: 'data', targetNamespace: dst }], { migrationType: 'CutOver', quiescePods: true }));
    const done = await waitForDvm(cluster, ctl, 'blocked', phaseIs('Succeeded', 'Failed'));
    t.equal(done.status.phase, 'Failed', 'Failed');
    t.match(
      JSON.stringify(done.status.errors),
      new RegExp(`${src}/stray`),
      `the error names the pod that kept the PVC mounted (${JSON.stringify(done.status.errors)})`,
    );
    const after = await workloadState(cluster, src);
    t.same(after.summary, before.summary, 'every workload is back as it was, without being asked');
    t.same(done.status.quiescedWorkloads, [], 'status.quiescedWorkloads is empty');
    t.same(await transferObjectsOf(cluster, done.metadata.uid), [], 'nothing of the run left');
  });

  t.test('a CutOver deleted mid-copy gives the workloads back', async (t) => {
    const { work, src, dst, ctl, kubeconfig, before } = await quiesceScenario(t, cluster, 'quidel', { seed: 403, bigFileBytes: 24 * 1024 * 1024 });
    const settings = join(work.dir, 'mc.yaml');
    // 4 MB/s: the 24 MiB file takes a few seconds, long enough to delete the migration mid-copy.
    writeFileSync(settings, toYaml(settingsFor({ rsync_opt_bwlimit: 4096 })));
    startControllerProcess(t, { kubeconfig, namespace: ctl, settings });
    await cluster.apply(dvmManifest(ctl, 'doomed', [{ namespace: src, name: 'data', targetNamespace: dst }], { migrationType: 'CutOver', quiescePods: true }));
    const copying = await waitForDvm(cluster, ctl, 'doomed', phaseIs('RunRsyncOperations', 'Succeeded', 'Failed'));
    t.equal(copying.status.phase, 'RunRsyncOperations', 'deleted while copying');
    t.equal((await workloadState(cluster, src)).summary['Deployment/writer']?.replicas, 0, 'the writer is quiesced while it copies');
    await cluster.kubectl(['delete', 'directvolumemigration', 'doomed', '-n', ctl, '--wait=true', '--timeout=90s']);
    t.same((await workloadState(cluster, src)).summary, before.summary, 'once the migration is gone, every workload is back as it was');
    t.same(await transferObjectsOf(cluster, copying.metadata.uid), [], 'nothing of the run left');
  });

  t.test('a Stage with quiescePods is refused, naming the field; nothing is touched', async (t) => {
    const { work, src, dst } = await scenario(t, cluster, 'quistage');
    const ctl = uniqueName('quistage-ctl');
    await cluster.createNamespace(ctl, 'restricted');
    t.teardown(() => cluster.deleteNamespace(ctl, false));
    await sourcePvc(cluster, src, 'data', { seed: 402, chownTo: IMAGE_UID });
    await cluster.apply(
      workloadsUsing(cluster, 'data', 'data').filter((object) => object.kind === 'Deployment' && object.metadata.name === 'writer'),
      src,
    );
    const settings = join(work.dir, 'mc.yaml');
    writeFileSync(settings, toYaml(settingsFor()));
    startControllerProcess(t, { kubeconfig: cluster.kubeconfig, namespace: ctl, settings });
    await cluster.apply(dvmManifest(ctl, 'stage', [{ namespace: src, name: 'data', targetNamespace: dst }], { quiescePods: true }));
    const done = await waitForDvm(cluster, ctl, 'stage', phaseIs('Failed'));
    t.match(done.status.errors, [/^spec\.quiescePods: only with migrationType: CutOver/], 'the error names spec.quiescePods');
    const writer = await cluster.kubectlJson(['get', 'deployment', 'writer', '-n', src]);
    t.equal(writer.spec.replicas, 2, 'the writer was not scaled');
    t.notOk(writer.metadata.annotations?.[QUIESCED_BY], 'nor annotated');
  });
}

interface QuiesceScenario extends Scenario {
  /** The controller's namespace (its DirectVolumeMigrations and Lease). */
  ctl: string;
  /** The source PVC "data" on this host. */
  tree: string;
  /** A token of exactly the shipped RBAC. */
  kubeconfig: string;
  /** The workloads before any migration touched them. */
  before: Awaited<ReturnType<typeof workloadState>>;
}

/** Namespaces, the source PVC "data" (with a spool directory the writers can write), a PVC "other",
 * the shipped RBAC, every kind of workload of workloadsUsing() plus `extra`, all running. */
async function quiesceScenario(
  t: Test,
  cluster: TestCluster,
  prefix: string,
  options: { seed: number; bigFileBytes?: number; extra?: KubeObject[] },
): Promise<QuiesceScenario> {
  const base = await scenario(t, cluster, prefix);
  const ctl = uniqueName(`${prefix}-ctl`);
  await cluster.createNamespace(ctl, 'restricted');
  t.teardown(() => cluster.deleteNamespace(ctl, false));
  const tree = await sourcePvc(cluster, base.src, 'data', { seed: options.seed, chownTo: IMAGE_UID, bigFileBytes: options.bigFileBytes ?? 0 });
  // The writers write here (they run as 65534; the tree belongs to the image's user).
  mkdirSync(join(tree, 'spool'));
  chmodSync(join(tree, 'spool'), 0o777);
  await createPvc(cluster, base.src, 'other');
  const kubeconfig = await shippedRbacKubeconfig(t, cluster, ctl, base.work.dir);
  const extra = options.extra ?? [];
  await cluster.apply([...workloadsUsing(cluster, 'data', 'other'), ...extra], base.src);
  await waitForAppPods(cluster, base.src, 5 + extra.length);
  return { ...base, ctl, tree, kubeconfig, before: await workloadState(cluster, base.src) };
}

/** OpenShift's DeploymentConfig API, as a CRD: dvm finds the API and patches the objects. Nothing
 * runs their pods here (no OpenShift controller), which is enough for what dvm does with them. */
async function installDeploymentConfigCrd(cluster: TestCluster): Promise<void> {
  await cluster.apply({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'deploymentconfigs.apps.openshift.io' },
    spec: {
      group: 'apps.openshift.io',
      scope: 'Namespaced',
      names: { plural: 'deploymentconfigs', singular: 'deploymentconfig', kind: 'DeploymentConfig' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  });
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/deploymentconfigs.apps.openshift.io']);
}

/** Every kind quiesce stops, each using `claim`, and one Deployment that uses `other`. */
function workloadsUsing(cluster: TestCluster, claim: string, other: string): KubeObject[] {
  const template = (app: string, args: string[], claimName = claim, restartPolicy = 'Always') => {
    const pod = probePod(cluster, app, args, { volumes: [{ claimName, mountPath: '/data' }], restartPolicy });
    return { metadata: { labels: { app } }, spec: pod.spec };
  };
  const selector = (app: string) => ({ matchLabels: { app } });
  const writer = template('writer', ['write', '/data/spool/alive', 'hi', '--', 'sleep', '3600']);
  return [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'writer' }, spec: { replicas: 2, selector: selector('writer'), template: writer } },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: { replicas: 1, serviceName: 'db', selector: selector('db'), template: template('db', ['sleep', '3600']) },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: { selector: selector('agent'), template: template('agent', ['sleep', '3600']) },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'backup' },
      spec: {
        schedule: '*/1 * * * *',
        concurrencyPolicy: 'Forbid',
        jobTemplate: { spec: { template: template('backup', ['echo', 'backup'], claim, 'Never') } },
      },
    },
    {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'legacy' },
      spec: { replicas: 3, selector: { app: 'legacy' }, template: template('legacy', ['sleep', '3600']) },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bystander' },
      spec: { replicas: 1, selector: selector('bystander'), template: template('bystander', ['sleep', '3600'], other) },
    },
  ];
}

/** Waits until `count` long-running application pods (not the CronJob's) run in the namespace. */
async function waitForAppPods(cluster: TestCluster, namespace: string, count: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const pods = await cluster.kubectlJson(['get', 'pods', '-n', namespace, '-l', 'app,app!=backup']);
    const running = pods.items.filter((pod: KubeObject) => pod.status?.phase === 'Running' && !pod.metadata.deletionTimestamp).length;
    if (running >= count) return;
    if (Date.now() > deadline) throw new Error(`${running} of ${count} application pods running in ${namespace} after 90 s`);
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 500));
  }
}

interface WorkloadSummary {
  replicas?: number;
  suspend?: boolean;
  nodeSelector?: Record<string, string>;
  quiescedBy?: string;
}

/** What quiesce changes on each workload, by "Kind/name"; and the bystander's pod name. */
async function workloadState(cluster: TestCluster, namespace: string): Promise<{ summary: Record<string, WorkloadSummary>; bystanderPod: string }> {
  const summary: Record<string, WorkloadSummary> = {};
  const kinds = ['deployments.apps', 'statefulsets.apps', 'daemonsets.apps', 'cronjobs.batch', 'deploymentconfigs.apps.openshift.io'];
  for (const kind of kinds) {
    for (const object of (await cluster.kubectlJson(['get', kind, '-n', namespace])).items as KubeObject[]) {
      const entry: WorkloadSummary = {};
      if (object.spec.replicas !== undefined) entry.replicas = object.spec.replicas;
      if (object.kind === 'CronJob') entry.suspend = object.spec.suspend === true;
      const nodeSelector = object.spec.template?.spec?.nodeSelector;
      if (nodeSelector && Object.keys(nodeSelector).length > 0) entry.nodeSelector = nodeSelector;
      const by = object.metadata.annotations?.[QUIESCED_BY];
      if (by) entry.quiescedBy = by;
      const leftover = Object.keys(object.metadata.annotations ?? {}).filter((key) => /preQuiesce/.test(key));
      if (leftover.length > 0 && !by) entry.quiescedBy = `stray annotations ${leftover.join(',')}`;
      summary[`${object.kind}/${object.metadata.name}`] = entry;
    }
  }
  const pods = await cluster.kubectlJson(['get', 'pods', '-n', namespace, '-l', 'app=bystander']);
  return { summary, bystanderPod: pods.items[0]?.metadata.name ?? 'none' };
}

interface AppPod {
  mountsData: boolean;
  goneAt?: number;
}

/** Every non-dvm pod of the namespace as a watch sees it: whether it mounts "data", and when it was
 * deleted (or ended). Pods that exist when the watch starts are seen as ADDED. */
async function recordAppPods(t: Test, cluster: TestCluster, namespace: string): Promise<Map<string, AppPod>> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const pods = new Map<string, AppPod>();
  const watch = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    { labelSelector: 'app!=directvolumemigration-rsync-transfer' },
    (type, pod: KubeObject) => {
      const name = pod.metadata.name as string;
      const mountsData = (pod.spec?.volumes ?? []).some((volume: KubeObject) => volume.persistentVolumeClaim?.claimName === 'data');
      const entry: AppPod = pods.get(name) ?? { mountsData };
      pods.set(name, entry);
      const ended = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
      if ((type === 'DELETED' || ended) && entry.goneAt === undefined) entry.goneAt = Date.now();
    },
    () => undefined,
  );
  t.teardown(() => watch.abort());
  return pods;
}
