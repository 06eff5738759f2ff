// OpenShift Route for the Route endpoint type: TLS passthrough, so the mutual-TLS handshake is
// end to end between the agents and the router only reads the SNI.
import { serverLabels } from './labels.js';
import { routeName, RSYNC_PORT_NAME, serviceName } from './names.js';

export function serverRoute(runId: string, namespace: string, host: string): Record<string, unknown> {
  return {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name: routeName(runId), namespace, labels: serverLabels(runId) },
    spec: {
      host,
      to: { kind: 'Service', name: serviceName(runId), weight: 100 },
      port: { targetPort: RSYNC_PORT_NAME },
      tls: { termination: 'passthrough', insecureEdgeTerminationPolicy: 'None' },
      wildcardPolicy: 'None',
    },
  };
}
