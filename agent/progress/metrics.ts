// The client agent's Prometheus metrics, fed from the same events it publishes.
import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentEvent } from '../../contract/events.js';

export function createClientMetrics(pvc: string): { registry: Registry; record: (event: AgentEvent) => void } {
  const registry = new Registry();
  const slash = pvc.indexOf('/');
  const labels = { namespace: slash > 0 ? pvc.slice(0, slash) : '', pvc: slash > 0 ? pvc.slice(slash + 1) : pvc };
  const labelNames = ['namespace', 'pvc'] as const;
  const bytes = new Gauge({ name: 'dvm_agent_bytes_transferred', help: 'Bytes rsync has sent for this PVC', labelNames, registers: [registry] });
  const totalBytes = new Gauge({ name: 'dvm_agent_source_bytes', help: 'Size of the source data', labelNames, registers: [registry] });
  const files = new Gauge({ name: 'dvm_agent_files_checked', help: 'Entries rsync has checked', labelNames, registers: [registry] });
  const attempts = new Counter({ name: 'dvm_agent_failed_attempts_total', help: 'rsync attempts that failed', labelNames, registers: [registry] });
  const duration = new Gauge({ name: 'dvm_agent_duration_seconds', help: 'Time since the copy started', labelNames, registers: [registry] });
  const succeeded = new Gauge({ name: 'dvm_agent_succeeded', help: '1 when the copy succeeded, 0 when it failed, absent while running', labelNames, registers: [registry] });
  const record = (event: AgentEvent): void => {
    if (event.type === 'progress') {
      bytes.set(labels, event.bytes);
      totalBytes.set(labels, event.totalBytes);
      files.set(labels, event.files);
      duration.set(labels, event.elapsedMs / 1000);
    } else if (event.type === 'attempt') {
      attempts.inc(labels);
    } else {
      bytes.set(labels, event.bytes);
      duration.set(labels, event.durationMs / 1000);
      succeeded.set(labels, event.status === 'Succeeded' ? 1 : 0);
    }
  };
  return { registry, record };
}
