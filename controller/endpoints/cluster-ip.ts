// ClusterIP: clients dial the Service's DNS name, which works when the source pods share the
// destination's network and DNS (one cluster, or a multi-cluster service network).
import { RSYNC_PORT } from '../manifests/names.js';
import { createServerService, serviceSans } from './service.js';
import type { EndpointContext, ResolvedEndpoint } from './types.js';

export async function exposeClusterIp(context: EndpointContext, namespace: string): Promise<ResolvedEndpoint> {
  const service = await createServerService(context, namespace);
  const sans = serviceSans(context, namespace, service);
  const host = sans.dnsNames[0]!;
  return { host, port: RSYNC_PORT, serverName: host, ...sans };
}
