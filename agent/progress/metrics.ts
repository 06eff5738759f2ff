// The client agent's Prometheus metrics, fed from the same events it publishes, under the names the
// controller uses for the same values (contract/metric-names.ts).
import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentEvent } from '../../contract/events.js';
import { PVC_METRICS } from '../../contract/metric-names.js';

export function createClientMetrics(pvc: string): { registry: Registry; record: (event: AgentEvent) => void } {
  const registry = new Registry();
  const slash = pvc.indexOf('/');
  const labels = { namespace: slash > 0 ? pvc.slice(0, slash) : '', pvc: slash > 0 ? pvc.slice(slash + 1) : pvc };
  const labelNames = ['namespace', 'pvc'] as const;
  const bytes = new Counter({ name: PVC_METRICS.transferredBytes, help: 'Bytes rsync has sent for this PVC', labelNames, registers: [registry] });
  const totalBytes = new Gauge({ name: PVC_METRICS.sourceBytes, help: 'Size of the source data', labelNames, registers: [registry] });
  const files = new Counter({ name: PVC_METRICS.filesProcessed, help: 'Entries rsync has checked', labelNames, registers: [registry] });
  const attempts = new Counter({ name: PVC_METRICS.failedAttempts, help: 'rsync attempts that failed', labelNames, registers: [registry] });
  const duration = new Gauge({ name: PVC_METRICS.transferDuration, help: 'Time since the copy started', labelNames, registers: [registry] });
  const succeeded = new Gauge({
    name: 'dvm_agent_succeeded',
    help: '1 when the copy succeeded, 0 when it failed, absent while running',
    labelNames,
    registers: [registry],
  });
  // Events carry totals that never go backwards (progress/tracker.ts); counters move by the difference.
  let sentBytes = 0;
  let checkedFiles = 0;
  const advance = (toBytes: number, toFiles: number): void => {
    if (toBytes > sentBytes) bytes.inc(labels, toBytes - sentBytes);
    if (toFiles > checkedFiles) files.inc(labels, toFiles - checkedFiles);
    sentBytes = Math.max(sentBytes, toBytes);
    checkedFiles = Math.max(checkedFiles, toFiles);
  };
  const record = (event: AgentEvent): void => {
    if (event.type === 'progress') {
      advance(event.bytes, event.files);
      totalBytes.set(labels, event.totalBytes);
      duration.set(labels, event.elapsedMs / 1000);
    } else if (event.type === 'attempt') {
      attempts.inc(labels);
    } else {
      advance(event.bytes, event.files);
      duration.set(labels, event.durationMs / 1000);
      succeeded.set(labels, event.status === 'Succeeded' ? 1 : 0);
    }
  };
  return { registry, record };
}
