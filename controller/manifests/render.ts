// Every object of a run, from spec + settings + (optionally) what the clusters told us. Pure: `dvm
// render` prints this, and the migration creates the same objects piece by piece.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ControllerSettings } from '../config/settings.js';
import type { MigrationSpec } from '../config/spec.js';
import { endpointFor } from '../endpoints/index.js';
import { clientAgentConfig, serverAgentConfig, type EndpointAddress } from './agent-config.js';
import { clientPod } from './client.js';
import { runLabels } from './labels.js';
import { clientConfigSecretName, clientTlsSecretName, serverConfigSecretName, serverTlsSecretName } from './names.js';
import { networkPolicies } from './netpol.js';
import { clientSite, planTransfer, serverKey, type ClientPlan, type ServerPlan, type TransferPlan, type VolumeModes } from './plan.js';
import { destinationNamespace, destinationPvc, type SourcePvcInfo } from './pvc.js';
import { configSecret, tlsSecret, type TlsMaterial } from './secrets.js';
import { serverPod } from './server.js';

export type KubeObject = KubernetesObject;

export interface RunPkiPems {
  caPem: string;
  server: { certPem: string; keyPem: string };
  /** Per destination PVC identity (ClientPlan.identity). */
  clients: Record<string, { certPem: string; keyPem: string }>;
}

/** Stands in for run-time values when rendering without clusters. */
const PLACEHOLDER_PEM = '(generated per run)';

export const PLACEHOLDER_PKI: RunPkiPems = {
  caPem: PLACEHOLDER_PEM,
  server: { certPem: PLACEHOLDER_PEM, keyPem: PLACEHOLDER_PEM },
  clients: {},
};
const PLACEHOLDER_PAIR = { certPem: PLACEHOLDER_PEM, keyPem: PLACEHOLDER_PEM };

export function serverTls(pki: RunPkiPems): TlsMaterial {
  return { caPem: pki.caPem, certPem: pki.server.certPem, keyPem: pki.server.keyPem };
}
export function clientTls(pki: RunPkiPems, client: ClientPlan): TlsMaterial {
  const pair = pki.clients[client.identity] ?? PLACEHOLDER_PAIR;
  return { caPem: pki.caPem, certPem: pair.certPem, keyPem: pair.keyPem };
}

/** A namespace's server after its exposure (endpoints/: Service, Route): Secrets, then the pod. */
export function serverObjects(
  runId: string,
  server: ServerPlan,
  settings: ControllerSettings,
  pki: RunPkiPems,
): {
  secrets: KubeObject[];
  pod: KubeObject;
} {
  const labels = runLabels(runId);
  return {
    secrets: [
      configSecret(serverConfigSecretName(runId, server.kind), server.namespace, labels, serverAgentConfig(server)),
      tlsSecret(serverTlsSecretName(runId, server.kind), server.namespace, labels, serverTls(pki)),
    ],
    pod: serverPod(runId, server, settings),
  };
}

export function clientTlsSecret(runId: string, client: ClientPlan, pki: RunPkiPems): KubeObject {
  return tlsSecret(clientTlsSecretName(runId, client.pair), client.pair.source.namespace, runLabels(runId), clientTls(pki, client));
}

export function clientObjects(
  runId: string,
  client: ClientPlan,
  settings: ControllerSettings,
  endpoint: EndpointAddress,
  attempt: number,
  pinToNode?: string,
): {
  configSecret: KubeObject;
  pod: KubeObject;
} {
  return {
    configSecret: configSecret(
      clientConfigSecretName(runId, client.pair),
      client.pair.source.namespace,
      runLabels(runId),
      clientAgentConfig(client, endpoint, settings),
    ),
    pod: clientPod(runId, client, settings, { attempt, ...(pinToNode ? { pinToNode } : {}) }),
  };
}

export interface RenderInput {
  runId: string;
  spec: MigrationSpec;
  settings: ControllerSettings;
  /** By serverKey (the destination namespace, for files); provisional addresses when absent. */
  endpoints?: Record<string, EndpointAddress>;
  pki?: RunPkiPems;
  /** Per source "namespace/name"; destination PVCs are rendered only for PVCs listed here. */
  sourcePvcs?: Record<string, SourcePvcInfo>;
  nodePins?: Record<string, string>;
  /** The destination namespaces that do not exist yet (preflight); without it, every destination
   * namespace is rendered (createDestinationNamespaces). */
  missingNamespaces?: readonly string[];
}

export interface RenderedRun {
  plan: TransferPlan;
  source: KubeObject[];
  destination: KubeObject[];
}

export function renderRun(input: RenderInput): RenderedRun {
  const { runId, spec, settings } = input;
  const plan = planTransfer(runId, spec, volumeModesOf(input.sourcePvcs));
  const pki = input.pki ?? PLACEHOLDER_PKI;
  const endpoint = endpointFor(settings.rsync_endpoint_type);
  const facts = settings.cluster_subdomain ? { routeSubdomain: settings.cluster_subdomain } : {};
  const endpointOf = (client: ClientPlan) => input.endpoints?.[serverKey(clientSite(client))] ?? endpoint.provisionalAddress(runId, clientSite(client), facts);
  const destination: KubeObject[] = [];
  const source: KubeObject[] = [];
  const namespacesToCreate = input.missingNamespaces
    ? plan.destinationNamespaces.filter((name) => input.missingNamespaces!.includes(name))
    : plan.destinationNamespaces;
  if (spec.createDestinationNamespaces) destination.push(...namespacesToCreate.map((name) => destinationNamespace(name, runId)));
  for (const client of plan.clients) {
    const info = input.sourcePvcs?.[client.key];
    if (info) destination.push(destinationPvc(client.pair, info, settings.storage_class_mapping, runId));
  }
  if (settings.rsync_network_policies) {
    destination.push(...networkPolicies(runId, plan.destinationNamespaces));
    source.push(...networkPolicies(runId, plan.sourceNamespaces));
  }
  for (const server of plan.servers) {
    const objects = serverObjects(runId, server, settings, pki);
    destination.push(...objects.secrets, ...endpoint.exposure(runId, server, facts), objects.pod);
  }
  for (const client of plan.clients) {
    source.push(clientTlsSecret(runId, client, pki));
    const objects = clientObjects(runId, client, settings, endpointOf(client), 1, input.nodePins?.[client.key]);
    source.push(objects.configSecret, objects.pod);
  }
  return { plan, source, destination };
}

/** The source PVCs' volume modes, as the plan takes them. */
export function volumeModesOf(sourcePvcs: Record<string, SourcePvcInfo> | undefined): VolumeModes {
  return Object.fromEntries(Object.entries(sourcePvcs ?? {}).map(([key, info]) => [key, info.volumeMode]));
}
