// The endpoint kinds by rsync_endpoint_type, and exposing a server with one of them.
import type { EndpointType } from '../config/settings.js';
import type { ServerSite } from '../manifests/plan.js';
import { createObject, type Obj } from '../cluster/objects.js';
import { clusterIpEndpoint } from './cluster-ip.js';
import type { Endpoint, EndpointContext, ResolvedEndpoint } from './endpoint.js';
import { loadBalancerEndpoint } from './load-balancer.js';
import { nodePortEndpoint } from './node-port.js';
import { routeEndpoint } from './route.js';

export type { Endpoint, EndpointContext, EndpointFacts, ResolvedEndpoint } from './endpoint.js';

const ENDPOINTS: Record<EndpointType, Endpoint> = {
  Route: routeEndpoint,
  NodePort: nodePortEndpoint,
  ClusterIP: clusterIpEndpoint,
  LoadBalancer: loadBalancerEndpoint,
};

export function endpointFor(type: EndpointType): Endpoint {
  return ENDPOINTS[type];
}

/** Creates the site's exposure (the same objects `dvm render` shows) and returns the address
 * clients will dial. */
export async function exposeServer(context: EndpointContext, site: ServerSite): Promise<ResolvedEndpoint> {
  const endpoint = endpointFor(context.settings.rsync_endpoint_type);
  const created: Obj[] = [];
  for (const object of endpoint.exposure(context.runId, site, context)) {
    created.push(await createObject(context.cluster, object, context.writes, context.scope));
  }
  return endpoint.resolve(context, site, created);
}
