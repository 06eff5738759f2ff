// NetworkPolicies that let the transfer pods through namespaces with default-deny policies. They select
// on the run-independent labels (the owner, and either kind's app value); the run label lets cleanup
// find them. The same
// objects, with placeholders, are in netpol/*.yaml for administrators who apply them by hand
// (a test keeps the two in step).
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { runLabels, transferPodSelector } from './labels.js';
import { HEALTH_PORT, netpolEgressName, netpolIngressName, PROGRESS_PORT, RSYNC_PORT } from './names.js';

export function allowIngressPolicy(runId: string, namespace: string): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: netpolIngressName(runId), namespace, labels: runLabels(runId) },
    spec: {
      podSelector: transferPodSelector(),
      policyTypes: ['Ingress'],
      // rsync over TLS from the other cluster, probes, and the API server's pod proxy for progress.
      ingress: [{ ports: [RSYNC_PORT, HEALTH_PORT, PROGRESS_PORT].map((port) => ({ protocol: 'TCP', port })) }],
    },
  };
}

export function allowEgressPolicy(runId: string, namespace: string): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: netpolEgressName(runId), namespace, labels: runLabels(runId) },
    spec: {
      podSelector: transferPodSelector(),
      policyTypes: ['Egress'],
      // The endpoint may be a Route, a node port, a load balancer or a proxy: addresses the
      // controller cannot know in advance, so egress is open for these pods only.
      egress: [{}],
    },
  };
}

export function networkPolicies(runId: string, namespaces: string[]): V1NetworkPolicy[] {
  return namespaces.flatMap((namespace) => [allowIngressPolicy(runId, namespace), allowEgressPolicy(runId, namespace)]);
}
