// The quiesce patches and who counts as a user of a PVC (controller/manifests/workloads.ts), and
// the spec rule that quiescePods needs a CutOver: no cluster needed. The real-cluster behaviour is
// test/cluster-e2e/quiesce.test.ts.
import t from 'tap';
import type { Obj } from '../controller/cluster/objects.js';
import { parseSpec } from '../controller/config/load.js';
import { hasControllerOwner, usesClaims, WORKLOAD_KINDS, type WorkloadKind } from '../controller/manifests/workloads.js';

const kind = (name: string): WorkloadKind => WORKLOAD_KINDS.find((k) => k.kind === name)!;
const mounting = (claim: string) => ({ spec: { volumes: [{ name: 'v', persistentVolumeClaim: { claimName: claim } }] } });
/** A merge patch applied the way the API server does (RFC 7386: null deletes). */
function merge(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = { ...(typeof target === 'object' && target !== null ? target : {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = merge(out[key], value);
  }
  return out;
}

t.test('quiesce then restore gives back exactly the workload that was (each kind)', async (t) => {
  const cases: Array<[string, Obj]> = [
    ['Deployment', { kind: 'Deployment', metadata: { name: 'w', annotations: { keep: 'me' } }, spec: { replicas: 3, template: mounting('data') } }],
    ['StatefulSet', { kind: 'StatefulSet', metadata: { name: 'db' }, spec: { replicas: 0, template: mounting('data') } }],
    ['DeploymentConfig', { kind: 'DeploymentConfig', metadata: { name: 'dc' }, spec: { replicas: 2, template: mounting('data') } }],
    ['DaemonSet', { kind: 'DaemonSet', metadata: { name: 'ds' }, spec: { template: { spec: { ...mounting('data').spec, nodeSelector: { zone: 'a' } } } } }],
    ['CronJob', { kind: 'CronJob', metadata: { name: 'cj' }, spec: { suspend: true, jobTemplate: { spec: { template: mounting('data') } } } }],
  ];
  for (const [name, original] of cases) {
    const quiesced = merge(original, kind(name).quiesce(original, 'run-1'));
    t.equal(quiesced.metadata.annotations['migration.openshift.io/dvm-quiesced-by'], 'run-1', `${name}: annotated with the run`);
    const restored = merge(quiesced, kind(name).restore(quiesced));
    // An emptied annotations map is left behind where there was none: the same object to the API.
    const expected = { ...original, metadata: { ...original.metadata, annotations: original.metadata?.annotations ?? {} } };
    t.same(restored, expected, `${name}: restored as it was`);
  }
  const deployment = merge(cases[0]![1], kind('Deployment').quiesce(cases[0]![1], 'run-1'));
  t.equal(deployment.spec.replicas, 0, 'a Deployment is scaled to 0');
  t.equal(deployment.metadata.annotations['migration.openshift.io/preQuiesceReplicas'], '3', 'its replica count is kept');
  const cron = merge(cases[4]![1], kind('CronJob').quiesce(cases[4]![1], 'run-1'));
  t.equal(cron.spec.suspend, true, 'a CronJob is suspended');
  t.equal(cron.metadata.annotations['migration.openshift.io/preQuiesceSuspend'], 'true', 'one that was suspended stays suspended on restore');
  const ds = merge(cases[3]![1], kind('DaemonSet').quiesce(cases[3]![1], 'run-1'));
  t.same(ds.spec.template.spec.nodeSelector, { zone: 'a', 'migration.openshift.io/quiesce-daemonset': 'true' }, 'a DaemonSet keeps its own node selector');
});

t.test('a restore with a damaged annotation does not scale to a made-up number', async (t) => {
  const object: Obj = {
    kind: 'Deployment',
    metadata: { name: 'w', annotations: { 'migration.openshift.io/preQuiesceReplicas': '-4x' } },
    spec: { replicas: 0 },
  };
  t.equal((kind('Deployment').restore(object) as any).spec.replicas, 1, 'back to 1, the API default');
});

t.test('who uses a PVC', async (t) => {
  const claims = new Set(['data', 'www-web-0']);
  t.ok(usesClaims(kind('Deployment'), { kind: 'Deployment', spec: { template: mounting('data') } }, claims), 'a template that mounts it');
  t.notOk(usesClaims(kind('Deployment'), { kind: 'Deployment', spec: { template: mounting('other') } }, claims), 'not one that mounts another');
  const web = { kind: 'StatefulSet', metadata: { name: 'web' }, spec: { volumeClaimTemplates: [{ metadata: { name: 'www' } }], template: { spec: {} } } };
  t.ok(usesClaims(kind('StatefulSet'), web, claims), 'a StatefulSet whose claim template made it (www-web-0)');
  const webby = { ...web, metadata: { name: 'webby' } };
  t.notOk(usesClaims(kind('StatefulSet'), webby, new Set(['www-web-0'])), 'not a StatefulSet of another name');
  t.notOk(usesClaims(kind('StatefulSet'), web, new Set(['www-web-x'])), 'not a claim without an ordinal');
  t.ok(
    hasControllerOwner({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'w', uid: 'u', controller: true }] } }),
    "a Deployment's ReplicaSet is left to its Deployment",
  );
  t.notOk(
    hasControllerOwner({ metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'u' }] } }),
    'a non-controller owner does not count',
  );
});

t.test('quiescePods needs migrationType CutOver', async (t) => {
  const pvcs = [{ name: 'data', namespace: 'shop' }];
  t.throws(() => parseSpec({ persistentVolumeClaims: pvcs, quiescePods: true }), /spec: quiescePods: only with migrationType: CutOver/);
  t.throws(() => parseSpec({ persistentVolumeClaims: pvcs, quiescePods: 'yes', migrationType: 'CutOver' }), /quiescePods/);
  t.equal(parseSpec({ persistentVolumeClaims: pvcs, quiescePods: true, migrationType: 'CutOver' }).spec.quiescePods, true);
  t.equal(parseSpec({ persistentVolumeClaims: pvcs }).spec.quiescePods, false, 'off by default');
});
