// Exposing a server by the configured rsync_endpoint_type.
import { exposeClusterIp } from './cluster-ip.js';
import { exposeLoadBalancer } from './load-balancer.js';
import { exposeNodePort } from './node-port.js';
import { exposeRoute, waitRouteAdmitted } from './route.js';
import type { EndpointContext, ResolvedEndpoint } from './types.js';

export { resolveRouteSubdomain } from './route.js';
export type { EndpointContext, ResolvedEndpoint } from './types.js';

/** Creates the Service (and Route) and returns the address clients will dial. */
export function exposeServer(context: EndpointContext, namespace: string): Promise<ResolvedEndpoint> {
  switch (context.settings.rsync_endpoint_type) {
    case 'Route':
      return exposeRoute(context, namespace);
    case 'NodePort':
      return exposeNodePort(context, namespace);
    case 'LoadBalancer':
      return exposeLoadBalancer(context, namespace);
    case 'ClusterIP':
      return exposeClusterIp(context, namespace);
  }
}

/** Anything the endpoint itself must reach before clients can dial it (a Route's admission). */
export async function waitEndpointReady(context: EndpointContext, namespace: string): Promise<void> {
  if (context.settings.rsync_endpoint_type === 'Route') await waitRouteAdmitted(context, namespace);
}
