// `dvm controller` as users deploy it: everything `kubectl apply -k deploy/` applies (rendered by
// kubectl's own kustomize), moved into a namespace of the test's, the controller image built by
// images/build.sh --controller. The controller runs as a pod of that Deployment (in-cluster
// credentials of the shipped ServiceAccount, read-only root file system, restricted Pod Security),
// becomes Ready, and drives a DirectVolumeMigration to Succeeded with identical trees.
import t from 'tap';
import { parseAllDocuments, stringify as toYaml } from 'yaml';
import { uniqueName, type KubeObject } from '../support/cluster.js';
import { DEPLOY_DIR, dvmManifest, phaseIs, settingsFor, transferObjectsOf, waitForDvm } from './operator-support.js';
import { CONTROLLER_IMAGE, differences, e2eCluster, IMAGE_UID, scenario, sourcePvc } from './support.js';

const SHIPPED_NAMESPACE = 'dvm-system';

const setup = await e2eCluster();
if ('skip' in setup) t.plan(0, setup.skip);
else {
  const { cluster } = setup;

  t.test('the shipped deploy/ with the controller image: Ready, and a DirectVolumeMigration to Succeeded', async (t) => {
    const { src, dst } = await scenario(t, cluster, 'opdep');
    const ns = uniqueName('opdep-ctl');
    t.teardown(async () => {
      await cluster.kubectl(['delete', 'clusterrolebinding', `dvm-controller-${ns}`, '--ignore-not-found']);
      await cluster.deleteNamespace(ns, false);
    });
    const objects = parseAllDocuments(await cluster.kubectl(['kustomize', DEPLOY_DIR]))
      .map((doc) => doc.toJSON() as KubeObject)
      .filter(Boolean);
    const moved = objects.map((object: KubeObject) => movedInto(object, ns));
    const token = `t-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    await cluster.apply(moved.filter((object: KubeObject) => object.kind === 'Namespace'));
    await cluster.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'dvm-progress-token', namespace: ns }, stringData: { token } });
    await cluster.apply(moved.filter((object: KubeObject) => object.kind !== 'Namespace'));
    await cluster.kubectl(['rollout', 'status', 'deployment/dvm-controller', '-n', ns, '--timeout=120s']);
    const pods = await cluster.kubectlJson(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/name=dvm-controller']);
    t.equal(pods.items.length, 1, 'one controller pod');
    const pod = pods.items[0];
    t.ok(
      pod.status.conditions.some((c: KubeObject) => c.type === 'Ready' && c.status === 'True'),
      'the controller pod is Ready (its progress server answers the readiness probe)',
    );
    t.equal(pod.spec.containers[0].securityContext.readOnlyRootFilesystem, true, 'on a read-only root file system');

    const tree = await sourcePvc(cluster, src, 'data', { seed: 500, chownTo: IMAGE_UID });
    await cluster.apply(dvmManifest(ns, 'in-cluster', [{ namespace: src, name: 'data', targetNamespace: dst }]));
    const done = await waitForDvm(cluster, ns, 'in-cluster', phaseIs('Succeeded', 'Failed'), 180_000);
    t.equal(done.status.phase, 'Succeeded', `Succeeded (${JSON.stringify(done.status.errors ?? [])})`);
    t.equal(await differences(tree, (await cluster.waitForPvcBound(dst, 'data')).hostPath, { owners: false, rootAttributes: false }), '', 'identical trees');
    const dvmps = await cluster.kubectlJson(['get', 'directvolumemigrationprogresses', '-n', ns]);
    t.equal(dvmps.items[0]?.status?.progressPercent, 100, 'its DirectVolumeMigrationProgress says 100 %');
    t.same(await transferObjectsOf(cluster, done.metadata.uid), [], 'nothing of the run left');
    const logs = await cluster.kubectl(['logs', '-n', ns, pod.metadata.name]);
    t.match(logs, /leader|lease/i, 'the pod logged its leader election');
    t.notOk(logs.includes(token), 'the progress token appears in no log line');
    t.notOk(/forbidden|HTTP 403/i.test(logs), 'the shipped RBAC allowed every request');
  });
}

/** One shipped object, in `ns` instead of dvm-system; the controller's image, settings and watch
 * namespace set for this test; everything else as shipped. */
function movedInto(object: KubeObject, ns: string): KubeObject {
  const moved = structuredClone(object);
  if (moved.kind === 'Namespace' && moved.metadata.name === SHIPPED_NAMESPACE) moved.metadata.name = ns;
  if (moved.metadata.namespace === SHIPPED_NAMESPACE) moved.metadata.namespace = ns;
  for (const subject of moved.subjects ?? []) if (subject.namespace === SHIPPED_NAMESPACE) subject.namespace = ns;
  if (moved.kind === 'ClusterRoleBinding') moved.metadata.name = `dvm-controller-${ns}`;
  if (moved.kind === 'ConfigMap' && moved.metadata.name === 'dvm-controller-settings') moved.data['migrationcontroller.yaml'] = toYaml(settingsFor());
  if (moved.kind === 'Deployment') {
    const container = moved.spec.template.spec.containers[0];
    container.image = CONTROLLER_IMAGE;
    // Only this test's DirectVolumeMigrations: other test files may run controllers of their own.
    container.args = [...container.args, `--namespace=${ns}`];
  }
  return moved;
}
