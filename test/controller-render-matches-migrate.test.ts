// What `dvm render` prints is what `dvm migrate` creates: the same objects, kinds, names, labels and
// specs, for each endpoint kind. Migrations run against the fake API servers (whose pods run the
// real agent); every object a run created is taken as the controller sent it and compared with the
// render of the same spec, settings and run id, given what preflight read from the clusters. Only
// run-time values may differ: key material, and the server address a client dials (render shows
// the provisional one, a run the one the cluster assigned).
import t from 'tap';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { parseSettings, parseSpec } from '../controller/config/load.js';
import { runMigration } from '../controller/index.js';
import { ANNOTATION_CREATED_BY_RUN, LABEL_RUN } from '../controller/manifests/labels.js';
import { planTransfer } from '../controller/manifests/plan.js';
import { renderRun, type KubeObject } from '../controller/manifests/render.js';
import { preflight } from '../controller/migration/preflight.js';
import { clustersOf, destinationNamespaces, seedPvcs, specFor, type PvcRef } from './support/pod-runner/migration-fixture.js';
import { startTwoClusters } from './support/pod-runner/two-clusters.js';

const world = await startTwoClusters();
t.teardown(() => world.close());
const clusters = clustersOf(world);

type Loose = Record<string, any>;

/** The object without what the API server or the run's own randomness decides. */
function comparable(object: KubeObject): Loose {
  const copy = structuredClone(object) as Loose;
  delete copy.status;
  if (copy.kind === 'Secret') {
    const data = copy.data as Record<string, string>;
    for (const key of Object.keys(data)) {
      if (key !== 'agent.yaml') data[key] = '(key material)';
      else data[key] = toYaml(withoutServerAddress(parseYaml(Buffer.from(data[key]!, 'base64').toString('utf8')) as Loose));
    }
  }
  return copy;
}

function withoutServerAddress(config: Loose): Loose {
  if (config.server) config.server = { ...config.server, host: '(assigned)', port: '(assigned)' };
  return config;
}

function key(object: KubeObject): string {
  return `${object.kind} ${object.metadata?.namespace ?? ''}/${object.metadata?.name}`;
}

function createdByRun(objects: KubeObject[], runId: string): KubeObject[] {
  return objects.filter((object) => object.metadata?.labels?.[LABEL_RUN] === runId || object.metadata?.annotations?.[ANNOTATION_CREATED_BY_RUN] === runId);
}

const CASES: Array<{ endpoint: string; pvcs: PvcRef[]; extra: Record<string, unknown> }> = [
  {
    endpoint: 'Route',
    pvcs: [
      ['render-r', 'data-1'],
      ['render-r', 'data-2'],
    ],
    extra: { rsync_network_policies: true },
  },
  {
    endpoint: 'NodePort',
    pvcs: [
      ['render-n', 'data-1'],
      ['render-n2', 'data-2'],
    ],
    extra: { rsync_opt_extras: '--checksum', rsync_opt_bwlimit: 4096 },
  },
];

for (const { endpoint, pvcs, extra } of CASES) {
  t.test(`${endpoint}: render equals what migrate creates`, async (t) => {
    await seedPvcs(world, pvcs, { files: 12 });
    // One destination namespace exists, the other is created by the run (createDestinationNamespaces).
    destinationNamespaces(world, pvcs.slice(0, 1));
    const runId = `render-${endpoint.toLowerCase()}`;
    const rawSpec = specFor(pvcs, { createDestinationNamespaces: true });
    const rawSettings = { rsync_endpoint_type: endpoint, rsync_server_ready_timeout_seconds: 120, ...extra };
    const spec = parseSpec(rawSpec).spec;
    const settings = parseSettings(rawSettings);
    // What the clusters tell a run before it creates anything, read the same way the run reads it.
    const checked = await preflight(clusters, planTransfer(runId, spec), settings);

    const result = await runMigration(spec, settings, clusters, () => undefined, { runId });
    t.equal(result.status, 'Succeeded', result.message);

    const rendered = renderRun({
      runId,
      spec,
      settings: checked.routeSubdomain ? { ...settings, cluster_subdomain: checked.routeSubdomain } : settings,
      sourcePvcs: checked.sourcePvcs,
      nodePins: checked.nodePins,
      missingNamespaces: checked.missingNamespaces,
    });
    const created = createdByRun([...world.source.createRequests(), ...world.destination.createRequests()], runId);
    const renderedObjects = [...rendered.source, ...rendered.destination];
    t.same(created.map(key).sort(), renderedObjects.map(key).sort(), 'the same objects, by kind, namespace and name');
    const renderedByKey = new Map(renderedObjects.map((object) => [key(object), object]));
    for (const object of created) {
      const twin = renderedByKey.get(key(object));
      if (twin) t.same(comparable(object), comparable(twin), `${key(object)}: the same object`);
    }
  });
}
