// ClusterIP: clients dial the Service's DNS name, which works when the source pods share the
// destination's network and DNS (one cluster, or a multi-cluster service network).
import { RSYNC_PORT, serviceDnsNames } from '../manifests/names.js';
import { serverService } from '../manifests/server.js';
import { createdService, readyWithThePod, serviceSans } from './service.js';
import type { Endpoint } from './endpoint.js';

export const clusterIpEndpoint: Endpoint = {
  type: 'ClusterIP',
  preflight: async () => ({}),
  exposure: (runId, site) => [serverService(runId, site, 'ClusterIP')],
  provisionalAddress: (runId, site) => {
    const host = serviceDnsNames(runId, site)[0]!;
    return { host, port: RSYNC_PORT, serverName: host };
  },
  resolve: async (context, site, created) => {
    const sans = serviceSans(context.runId, site, createdService(created));
    const host = sans.dnsNames[0]!;
    return { host, port: RSYNC_PORT, serverName: host, ...sans };
  },
  waitReady: readyWithThePod,
};
