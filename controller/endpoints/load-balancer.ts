// LoadBalancer: clients dial the address the cloud's load-balancer controller publishes in the
// Service status; we watch for it and say so clearly when none comes.
import { SERVICE_KIND } from '../cluster/kinds.js';
import { waitFor } from '../cluster/watch.js';
import { RSYNC_PORT, serviceName } from '../manifests/names.js';
import { serverService } from '../manifests/server.js';
import { isIpAddress, PLACEHOLDER_HOST, type Endpoint } from './endpoint.js';
import { createdService, readyWithThePod, serviceSans } from './service.js';

export const loadBalancerEndpoint: Endpoint = {
  type: 'LoadBalancer',
  preflight: async () => ({}),
  exposure: (runId, site) => [serverService(runId, site, 'LoadBalancer')],
  provisionalAddress: () => ({ host: PLACEHOLDER_HOST, port: RSYNC_PORT, serverName: PLACEHOLDER_HOST }),
  resolve: async (context, site, created) => {
    const name = serviceName(context.runId, site.kind);
    const { namespace } = site;
    const host = (await waitFor(
      context.cluster,
      { ...SERVICE_KIND, namespace, fieldSelector: `metadata.name=${name}` },
      {
        check: (services) => {
          const ingress = services[0]?.status?.loadBalancer?.ingress?.[0];
          return ingress?.ip ?? ingress?.hostname;
        },
        timeoutMs: context.timeoutMs,
        describeTimeout: () =>
          `LoadBalancer Service ${namespace}/${name} got no ingress address within ${Math.round(context.timeoutMs / 1000)}s: ` +
          'does the destination cluster have a load-balancer controller? (or choose another rsync_endpoint_type)',
        ...(context.signal ? { signal: context.signal } : {}),
      },
    )) as string;
    const sans = serviceSans(context.runId, site, createdService(created));
    return {
      host,
      port: RSYNC_PORT,
      serverName: isIpAddress(host) ? sans.dnsNames[0]! : host,
      dnsNames: isIpAddress(host) ? sans.dnsNames : [host, ...sans.dnsNames],
      ipAddresses: isIpAddress(host) ? [...sans.ipAddresses, host] : sans.ipAddresses,
    };
  },
  waitReady: readyWithThePod,
};
