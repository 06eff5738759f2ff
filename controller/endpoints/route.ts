// Route: clients dial <route>-<namespace>.<apps domain>:443 with that name as SNI; the router passes
// the TLS stream through to the Service. The domain comes from cluster_subdomain or the cluster's
// ingress config (config.openshift.io/v1 Ingress "cluster").
import { ConfigError } from '../config/errors.js';
import { describeApiError } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import { ROUTE_KIND } from '../cluster/kinds.js';
import { createObject, servesGroupVersion, type Obj } from '../cluster/objects.js';
import { waitFor } from '../cluster/watch.js';
import { routeHost, routeName, ROUTE_PORT } from '../manifests/names.js';
import { serverRoute } from '../manifests/route.js';
import { createServerService, serviceSans } from './service.js';
import type { EndpointContext, ResolvedEndpoint } from './types.js';

/** Read-only, before anything is created: fails with one line when Routes cannot work. */
export async function resolveRouteSubdomain(cluster: Cluster, configured: string | undefined): Promise<string> {
  if (!(await servesGroupVersion(cluster, 'route.openshift.io/v1'))) {
    throw new ConfigError('rsync_endpoint_type: Route needs OpenShift, but the destination cluster does not serve route.openshift.io/v1 (use NodePort, ClusterIP or LoadBalancer)');
  }
  if (configured) return configured;
  let ingress: Obj | undefined;
  try {
    // Through CustomObjectsApi: KubernetesObjectApi would deserialize it as networking's V1Ingress.
    ingress = await cluster.custom.getClusterCustomObject({ group: 'config.openshift.io', version: 'v1', plural: 'ingresses', name: 'cluster' }) as Obj;
  } catch (error) {
    throw new ConfigError(`cluster_subdomain: not set, and reading the destination cluster's ingress config failed: ${describeApiError(error)}`);
  }
  const domain: unknown = ingress?.spec?.domain;
  if (typeof domain !== 'string' || domain === '') {
    throw new ConfigError('cluster_subdomain: not set, and the destination cluster\'s ingresses.config.openshift.io "cluster" has no spec.domain');
  }
  return domain;
}

export async function exposeRoute(context: EndpointContext, namespace: string): Promise<ResolvedEndpoint> {
  if (!context.routeSubdomain) throw new Error('route subdomain was not resolved in preflight');
  const service = await createServerService(context, namespace);
  const host = routeHost(context.runId, namespace, context.routeSubdomain);
  await createObject(context.cluster, serverRoute(context.runId, namespace, host), context.writes, context.scope);
  const sans = serviceSans(context, namespace, service);
  return { host, port: ROUTE_PORT, serverName: host, dnsNames: [host, ...sans.dnsNames], ipAddresses: sans.ipAddresses };
}

/** Until a router has admitted the Route; a rejection (e.g. host already claimed) fails at once. */
export async function waitRouteAdmitted(context: EndpointContext, namespace: string): Promise<void> {
  const name = routeName(context.runId);
  await waitFor(context.cluster, { ...ROUTE_KIND, namespace, fieldSelector: `metadata.name=${name}` }, {
    check: (routes) => {
      for (const ingress of routes[0]?.status?.ingress ?? []) {
        const admitted = (ingress.conditions ?? []).find((condition: Obj) => condition.type === 'Admitted');
        if (admitted?.status === 'True') return true;
        if (admitted?.status === 'False') {
          throw new Error(`Route ${namespace}/${name} was rejected by router ${ingress.routerName ?? '?'}: ${admitted.reason ?? ''} ${admitted.message ?? ''}`.trim());
        }
      }
      return undefined;
    },
    timeoutMs: context.timeoutMs,
    describeTimeout: () => `Route ${namespace}/${name} was not admitted by any router within ${Math.round(context.timeoutMs / 1000)}s`,
    ...(context.signal ? { signal: context.signal } : {}),
  });
}
