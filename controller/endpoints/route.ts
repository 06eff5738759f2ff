// Route: clients dial <route>-<namespace>.<apps domain>:443 with that name as SNI; the router passes
// the TLS stream through to the Service. The domain comes from cluster_subdomain or the cluster's
// ingress config (config.openshift.io/v1 Ingress "cluster").
import { ConfigError } from '../config/errors.js';
import { describeApiError } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import { ROUTE_KIND } from '../cluster/kinds.js';
import { servesGroupVersion, type Obj } from '../cluster/objects.js';
import { waitFor } from '../cluster/watch.js';
import { routeHost, routeName, ROUTE_PORT } from '../manifests/names.js';
import { serverRoute } from '../manifests/route.js';
import { serverService } from '../manifests/server.js';
import type { ServerSite } from '../manifests/plan.js';
import type { Endpoint, EndpointContext, EndpointFacts } from './endpoint.js';
import { createdService, serviceSans } from './service.js';

/** Read-only, before anything is created: fails with one line when Routes cannot work. */
export async function resolveRouteSubdomain(cluster: Cluster, configured: string | undefined): Promise<string> {
  if (!(await servesGroupVersion(cluster, 'route.openshift.io/v1'))) {
    throw new ConfigError(
      'rsync_endpoint_type: Route needs OpenShift, but the destination cluster does not serve route.openshift.io/v1 (use NodePort, ClusterIP or LoadBalancer)',
    );
  }
  if (configured) return configured;
  let ingress: Obj | undefined;
  try {
    // Through CustomObjectsApi: KubernetesObjectApi would deserialize it as networking's V1Ingress.
    ingress = (await cluster.custom.getClusterCustomObject({ group: 'config.openshift.io', version: 'v1', plural: 'ingresses', name: 'cluster' })) as Obj;
  } catch (error) {
    throw new ConfigError(`cluster_subdomain: not set, and reading the destination cluster's ingress config failed: ${describeApiError(error)}`);
  }
  const domain: unknown = ingress?.spec?.domain;
  if (typeof domain !== 'string' || domain === '') {
    throw new ConfigError('cluster_subdomain: not set, and the destination cluster\'s ingresses.config.openshift.io "cluster" has no spec.domain');
  }
  return domain;
}

/** Stands in for the apps domain when rendering without a cluster and without cluster_subdomain. */
export const PLACEHOLDER_SUBDOMAIN = 'cluster-subdomain.invalid';

function hostOf(runId: string, site: ServerSite, facts: EndpointFacts): string {
  return routeHost(runId, site, facts.routeSubdomain ?? PLACEHOLDER_SUBDOMAIN);
}

export const routeEndpoint: Endpoint = {
  type: 'Route',
  preflight: async (cluster, settings) => ({ routeSubdomain: await resolveRouteSubdomain(cluster, settings.cluster_subdomain) }),
  // The Route points at a ClusterIP Service; the router passes the TLS stream through to it.
  exposure: (runId, site, facts) => [serverService(runId, site, 'ClusterIP'), serverRoute(runId, site, hostOf(runId, site, facts))],
  provisionalAddress: (runId, site, facts) => {
    const host = hostOf(runId, site, facts);
    return { host, port: ROUTE_PORT, serverName: host };
  },
  resolve: async (context, site, created) => {
    if (!context.routeSubdomain) throw new Error('route subdomain was not resolved in preflight');
    const host = hostOf(context.runId, site, context);
    const sans = serviceSans(context.runId, site, createdService(created));
    return { host, port: ROUTE_PORT, serverName: host, dnsNames: [host, ...sans.dnsNames], ipAddresses: sans.ipAddresses };
  },
  waitReady: (context, site) => waitRouteAdmitted(context, site),
};

/** Until a router has admitted the Route; a rejection (e.g. host already claimed) fails at once. */
async function waitRouteAdmitted(context: EndpointContext, site: ServerSite): Promise<void> {
  const name = routeName(context.runId, site.kind);
  const { namespace } = site;
  await waitFor(
    context.cluster,
    { ...ROUTE_KIND, namespace, fieldSelector: `metadata.name=${name}` },
    {
      check: (routes) => {
        for (const ingress of routes[0]?.status?.ingress ?? []) {
          const admitted = (ingress.conditions ?? []).find((condition: Obj) => condition.type === 'Admitted');
          if (admitted?.status === 'True') return true;
          if (admitted?.status === 'False') {
            throw new Error(
              `Route ${namespace}/${name} was rejected by router ${ingress.routerName ?? '?'}: ${admitted.reason ?? ''} ${admitted.message ?? ''}`.trim(),
            );
          }
        }
        return undefined;
      },
      timeoutMs: context.timeoutMs,
      describeTimeout: () => `Route ${namespace}/${name} was not admitted by any router within ${Math.round(context.timeoutMs / 1000)}s`,
      ...(context.signal ? { signal: context.signal } : {}),
    },
  );
}
