// The Service in front of a server pod: created for every endpoint type (a Route points at it).
import { createObject, type Obj } from '../cluster/objects.js';
import { serviceDnsNames } from '../manifests/names.js';
import { serverService } from '../manifests/server.js';
import type { EndpointContext } from './types.js';

export async function createServerService(context: EndpointContext, namespace: string): Promise<Obj> {
  return createObject(context.cluster, serverService(context.runId, namespace, context.settings.rsync_endpoint_type), context.writes, context.scope);
}

export function serviceSans(context: EndpointContext, namespace: string, service: Obj): { dnsNames: string[]; ipAddresses: string[] } {
  const clusterIp: unknown = service.spec?.clusterIP;
  return {
    dnsNames: serviceDnsNames(context.runId, namespace),
    ipAddresses: typeof clusterIp === 'string' && clusterIp !== 'None' ? [clusterIp] : [],
  };
}
