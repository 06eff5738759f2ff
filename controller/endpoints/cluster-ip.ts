// ClusterIP: clients dial the Service's DNS name, which works when the source pods share the
// destination's network and DNS (one cluster, or a multi-cluster service network).
import { RSYNC_PORT, serviceDnsNames } from '../manifests/names.js';
import { serverService } from '../manifests/server.js';
import { createdService, readyWithThePod, serviceSans } from './service.js';
import type { Endpoint } from './endpoint.js';

export const clusterIpEndpoint: Endpoint = {
  type: 'ClusterIP',
  preflight: async () => ({}),
  exposure: (runId, namespace) => [serverService(runId, namespace, 'ClusterIP')],
  provisionalAddress: (runId, namespace) => {
    const host = serviceDnsNames(runId, namespace)[0]!;
    return { host, port: RSYNC_PORT, serverName: host };
  },
  resolve: async (context, namespace, created) => {
    const sans = serviceSans(context.runId, namespace, createdService(created));
    const host = sans.dnsNames[0]!;
    return { host, port: RSYNC_PORT, serverName: host, ...sans };
  },
  waitReady: readyWithThePod,
};
