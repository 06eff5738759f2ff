// NodePort: clients dial a node's address and the allocated node port.
import { ConfigError } from '../config/errors.js';
import { listObjects, type Obj } from '../cluster/objects.js';
import { RSYNC_PORT, RSYNC_PORT_NAME, serviceDnsNames } from '../manifests/names.js';
import { serverService } from '../manifests/server.js';
import { PLACEHOLDER_HOST, type Endpoint } from './endpoint.js';
import { createdService, readyWithThePod, serviceSans } from './service.js';

/** A Ready node's ExternalIP if it has one (reachable from the other cluster), else its InternalIP. */
export function pickNodeAddress(nodes: Obj[]): string | undefined {
  const ready = nodes.filter((node) => (node.status?.conditions ?? []).some((condition: Obj) => condition.type === 'Ready' && condition.status === 'True'));
  for (const type of ['ExternalIP', 'InternalIP']) {
    for (const node of ready) {
      const address = (node.status?.addresses ?? []).find((entry: Obj) => entry.type === type)?.address;
      if (address) return address;
    }
  }
  return undefined;
}

export const nodePortEndpoint: Endpoint = {
  type: 'NodePort',
  preflight: async () => ({}),
  exposure: (runId, site) => [serverService(runId, site, 'NodePort')],
  // The node and its port are the cluster's choice; the name the server certificate carries is not.
  provisionalAddress: (runId, site) => ({ host: PLACEHOLDER_HOST, port: RSYNC_PORT, serverName: serviceDnsNames(runId, site)[0]! }),
  resolve: async (context, site, created) => {
    const service = createdService(created);
    const port = (service?.spec?.ports ?? []).find((entry: Obj) => entry.name === RSYNC_PORT_NAME)?.nodePort;
    if (typeof port !== 'number') throw new Error(`Service ${site.namespace}/${service?.metadata?.name} got no nodePort on the destination cluster`);
    const nodes = await listObjects(context.cluster, 'v1', 'Node', undefined);
    const host = pickNodeAddress(nodes.items);
    if (!host) throw new ConfigError('rsync_endpoint_type NodePort: the destination cluster has no Ready node with an address');
    const sans = serviceSans(context.runId, site, service);
    return { host, port, serverName: sans.dnsNames[0]!, dnsNames: sans.dnsNames, ipAddresses: [...sans.ipAddresses, host] };
  },
  waitReady: readyWithThePod,
};
