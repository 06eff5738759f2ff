// OpenShift Route for the Route endpoint type: TLS passthrough, so the mutual-TLS handshake is
// end to end between the agents and the router only reads the SNI.
import type { KubernetesObject } from '@kubernetes/client-node';
import { serverLabels } from './labels.js';
import { routeName, RSYNC_PORT_NAME, serviceName } from './names.js';
import type { ServerSite } from './plan.js';

/** The fields of route.openshift.io/v1 Route that dvm sets (client-node has no model for it). */
export interface RouteObject extends KubernetesObject {
  spec: {
    host: string;
    to: { kind: 'Service'; name: string; weight: number };
    port: { targetPort: string };
    tls: { termination: 'passthrough'; insecureEdgeTerminationPolicy: 'None' };
    wildcardPolicy: 'None';
  };
}

export function serverRoute(runId: string, site: ServerSite, host: string): RouteObject {
  return {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name: routeName(runId, site.kind), namespace: site.namespace, labels: serverLabels(runId, site.kind) },
    spec: {
      host,
      to: { kind: 'Service', name: serviceName(runId, site.kind), weight: 100 },
      port: { targetPort: RSYNC_PORT_NAME },
      tls: { termination: 'passthrough', insecureEdgeTerminationPolicy: 'None' },
      wildcardPolicy: 'None',
    },
  };
}
