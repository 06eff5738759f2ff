// Destination namespaces and PVCs. An existing destination PVC is reused as it is: that is what makes
// a CutOver after a Stage copy only the changes.
import { ensureObject } from '../cluster/objects.js';
import { SHARED } from '../cluster/write-counter.js';
import { networkPolicies } from '../manifests/netpol.js';
import { destinationNamespace, destinationPvc } from '../manifests/pvc.js';
import type { Preflight, RunContext } from './context.js';

export interface DestinationOutcome {
  createdNamespaces: string[];
  createdPvcs: string[];
  reusedPvcs: string[];
}

export async function prepareDestination(context: RunContext, preflight: Preflight): Promise<DestinationOutcome> {
  const { clusters, runId, settings, writes } = context;
  const outcome: DestinationOutcome = { createdNamespaces: [], createdPvcs: [], reusedPvcs: [] };
  for (const namespace of preflight.missingNamespaces) {
    const { created } = await ensureObject(clusters.destination, destinationNamespace(namespace, runId), writes, SHARED);
    if (created) outcome.createdNamespaces.push(namespace);
  }
  for (const client of context.plan.clients) {
    const manifest = destinationPvc(client.pair, preflight.sourcePvcs[client.key]!, settings.storage_class_mapping, runId);
    const { created } = await ensureObject(clusters.destination, manifest, writes, client.key);
    (created ? outcome.createdPvcs : outcome.reusedPvcs).push(`${client.pair.target.namespace}/${client.pair.target.name}`);
  }
  return outcome;
}

export async function createNetworkPolicies(context: RunContext): Promise<void> {
  if (!context.settings.rsync_network_policies) return;
  const { clusters, runId, plan, writes } = context;
  // ensureObject: with source and destination on one cluster, a namespace can be both.
  for (const policy of networkPolicies(runId, plan.destinationNamespaces)) await ensureObject(clusters.destination, policy, writes, SHARED);
  for (const policy of networkPolicies(runId, plan.sourceNamespaces)) await ensureObject(clusters.source, policy, writes, SHARED);
}
