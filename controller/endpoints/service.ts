// The Service in front of a server pod: part of every endpoint kind's exposure (a Route points at it).
import type { Obj } from '../cluster/objects.js';
import { serviceDnsNames } from '../manifests/names.js';
import type { ServerSite } from '../manifests/plan.js';

/** The Service's names and ClusterIP: what the server certificate carries for in-cluster clients. */
export function serviceSans(runId: string, site: ServerSite, service: Obj | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const clusterIp: unknown = service?.spec?.clusterIP;
  return {
    dnsNames: serviceDnsNames(runId, site),
    ipAddresses: typeof clusterIp === 'string' && clusterIp !== 'None' ? [clusterIp] : [],
  };
}

/** The created Service among an exposure's objects. */
export function createdService(created: Obj[]): Obj | undefined {
  return created.find((object) => object.kind === 'Service');
}

/** Nothing to wait for beyond the server pod's own readiness. */
export async function readyWithThePod(): Promise<void> {}
