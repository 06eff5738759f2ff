// Secrets: the agent config (it may hold proxy credentials) and the TLS material, separately, so the
// key can be mounted 0400 on its own.
import type { V1Secret } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import type { AgentConfig } from './agent-config.js';
import type { Labels } from './labels.js';

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export function configSecret(name: string, namespace: string, labels: Labels, config: AgentConfig): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels },
    type: 'Opaque',
    data: { 'agent.yaml': base64(toYaml(config)) },
  };
}

export function tlsSecret(name: string, namespace: string, labels: Labels, tls: TlsMaterial): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels },
    type: 'kubernetes.io/tls',
    data: { 'ca.crt': base64(tls.caPem), 'tls.crt': base64(tls.certPem), 'tls.key': base64(tls.keyPem) },
  };
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
