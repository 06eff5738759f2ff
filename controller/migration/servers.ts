// The destination side of a run: expose one server per destination namespace and volume kind, issue the run's
// certificates for every address clients will dial, start the servers and wait until they are Ready
// and their endpoints admitted.
import { createRunPki } from '../pki/pki.js';
import { POD_KIND } from '../cluster/kinds.js';
import { createObject } from '../cluster/objects.js';
import { waitFor } from '../cluster/watch.js';
import { SHARED } from '../cluster/write-counter.js';
import { endpointFor, exposeServer, type EndpointContext, type ResolvedEndpoint } from '../endpoints/index.js';
import { serverPodName } from '../manifests/names.js';
import { serverKey, type ServerSite } from '../manifests/plan.js';
import { serverObjects, type KubeObject, type RunPkiPems } from '../manifests/render.js';
import type { Preflight, RunContext } from './context.js';
import { isPodReady, pendingReason, stuckReason } from './pod-state.js';

export interface ServersUp {
  /** By serverKey. */
  endpoints: Record<string, ResolvedEndpoint>;
  pki: RunPkiPems;
  /** The server pods as created, for superviseServers. */
  pods: KubeObject[];
}

export function endpointContext(context: RunContext, preflight: Preflight): EndpointContext {
  return {
    cluster: context.clusters.destination,
    runId: context.runId,
    settings: context.settings,
    writes: context.writes,
    scope: SHARED,
    timeoutMs: context.timeoutMs,
    signal: context.signal,
    ...(preflight.routeSubdomain ? { routeSubdomain: preflight.routeSubdomain } : {}),
  };
}

export async function startServers(context: RunContext, preflight: Preflight): Promise<ServersUp> {
  const endpointCtx = endpointContext(context, preflight);
  const endpoints: Record<string, ResolvedEndpoint> = {};
  for (const server of context.plan.servers) endpoints[serverKey(server)] = await exposeServer(endpointCtx, server);

  const all = Object.values(endpoints);
  const runPki = await createRunPki({
    runId: context.runId,
    serverDnsNames: unique(all.flatMap((endpoint) => endpoint.dnsNames)),
    serverIpAddresses: unique(all.flatMap((endpoint) => endpoint.ipAddresses)),
    clientIdentities: context.plan.clients.map((client) => client.identity),
  });
  const pki: RunPkiPems = { caPem: runPki.ca.certPem, server: runPki.server, clients: runPki.clients };

  const pods: KubeObject[] = [];
  for (const server of context.plan.servers) {
    const objects = serverObjects(context.runId, server, context.settings, pki);
    for (const secret of objects.secrets) await createObject(context.clusters.destination, secret, context.writes, SHARED);
    await createObject(context.clusters.destination, objects.pod, context.writes, SHARED);
    pods.push(objects.pod);
  }
  await Promise.all(
    context.plan.servers.flatMap((server) => [
      waitServerReady(context, server),
      endpointFor(context.settings.rsync_endpoint_type).waitReady(endpointCtx, server),
    ]),
  );
  return { endpoints, pki, pods };
}

async function waitServerReady(context: RunContext, site: ServerSite): Promise<void> {
  const name = serverPodName(context.runId, site.kind);
  const { namespace } = site;
  await waitFor(
    context.clusters.destination,
    { ...POD_KIND, namespace, fieldSelector: `metadata.name=${name}` },
    {
      check: (pods) => {
        const pod = pods[0];
        const stuck = stuckReason(pod);
        if (stuck) throw new Error(`server pod ${namespace}/${name} will not start: ${stuck}`);
        return isPodReady(pod) ? true : undefined;
      },
      timeoutMs: context.timeoutMs,
      describeTimeout: (pods) => {
        const pod = pods[0];
        const pending = pendingReason(pod);
        const state = !pod
          ? 'it does not exist'
          : `phase ${pod.status?.phase ?? 'unknown'}, ${isPodReady(pod) ? 'ready' : (pending ?? 'not ready (readiness probe /readyz not passing)')}`;
        return `server pod ${namespace}/${name} was not Ready within ${Math.round(context.timeoutMs / 1000)}s: ${state}`;
      },
      signal: context.signal,
    },
  );
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
