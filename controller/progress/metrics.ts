// Prometheus metrics of one migration, read from the aggregate at scrape time. Own Registry (never
// the global one) so several servers in one process, and tests, do not collide.
// Labels: namespace and pvc split from the PVC id ("ns/name"; local mode: namespace "").
import { Counter, Gauge, Registry } from 'prom-client';
import { PVC_METRICS } from '../../contract/metric-names.js';
import type { ProgressAggregate } from './aggregate.js';
import type { PvcPhase, PvcState } from './pvc-state.js';

const PVC_LABELS = ['namespace', 'pvc'] as const;
const PHASES: readonly PvcPhase[] = ['Pending', 'Running', 'Retrying', 'Succeeded', 'Failed'];

export interface ProgressMetrics {
  registry: Registry;
  /** Count of connected websocket clients; the server keeps it current. */
  clients: Gauge;
  droppedUpdates: Counter;
}

function labelsOf(p: PvcState): { namespace: string; pvc: string } {
  return { namespace: p.namespace, pvc: p.name };
}

/** Counters move by the difference since the last scrape; aggregate values only grow. */
function monotonicCounter(
  registry: Registry,
  name: string,
  help: string,
  aggregate: ProgressAggregate,
  pick: (p: PvcState) => number,
): Counter<'namespace' | 'pvc'> {
  const seen = new Map<string, number>();
  return new Counter({
    name,
    help,
    labelNames: PVC_LABELS,
    registers: [registry],
    collect() {
      for (const p of aggregate.snapshot().pvcs) {
        const value = pick(p);
        const delta = value - (seen.get(p.pvc) ?? 0);
        this.inc(labelsOf(p), Math.max(0, delta));
        seen.set(p.pvc, Math.max(value, seen.get(p.pvc) ?? 0));
      }
    },
  });
}

function pvcGauge(
  registry: Registry,
  name: string,
  help: string,
  aggregate: ProgressAggregate,
  pick: (p: PvcState) => number | null,
): Gauge<'namespace' | 'pvc'> {
  return new Gauge({
    name,
    help,
    labelNames: PVC_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of aggregate.snapshot().pvcs) {
        const value = pick(p);
        if (value !== null) this.set(labelsOf(p), value);
      }
    },
  });
}

export function createProgressMetrics(aggregate: ProgressAggregate): ProgressMetrics {
  const registry = new Registry();
  monotonicCounter(registry, PVC_METRICS.transferredBytes, 'Bytes rsync sent for the PVC.', aggregate, (p) => p.bytes);
  monotonicCounter(registry, PVC_METRICS.filesProcessed, 'Files rsync has checked for the PVC.', aggregate, (p) => p.files);
  monotonicCounter(registry, 'dvm_rsync_attempts_total', 'rsync attempts started for the PVC.', aggregate, (p) => p.attempts);
  pvcGauge(registry, PVC_METRICS.sourceBytes, "Size of the PVC's source data.", aggregate, (p) => p.totalBytes);
  pvcGauge(registry, 'dvm_source_files', "Files in the PVC's source data (as far as rsync has seen).", aggregate, (p) => p.filesTotal);
  pvcGauge(registry, 'dvm_progress_percent', 'Estimated completion of the PVC, 0..100.', aggregate, (p) => p.percent);
  pvcGauge(registry, 'dvm_transfer_rate_bytes_per_second', 'Current transfer rate of the PVC.', aggregate, (p) => p.rateBps);
  pvcGauge(registry, PVC_METRICS.transferDuration, "Time the PVC's copy took, or has taken so far.", aggregate, (p) => (p.durationMs ?? p.elapsedMs) / 1000);
  new Gauge({
    name: 'dvm_pvc_state',
    help: 'PVC state: 1 for the current one, 0 for the others.',
    labelNames: [...PVC_LABELS, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of aggregate.snapshot().pvcs) {
        for (const state of PHASES) this.set({ ...labelsOf(p), state }, p.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'dvm_migration_duration_seconds',
    help: 'Time since the migration started, frozen when it finished.',
    registers: [registry],
    collect() {
      this.set(aggregate.totals().elapsedMs / 1000);
    },
  });
  new Gauge({
    name: 'dvm_migration_finished',
    help: '1 once the migration finished.',
    registers: [registry],
    collect() {
      this.set(aggregate.finished ? 1 : 0);
    },
  });
  const clients = new Gauge({
    name: 'dvm_progress_clients',
    help: 'Websocket clients connected to /progress.',
    registers: [registry],
  });
  const droppedUpdates = new Counter({
    name: 'dvm_progress_dropped_updates_total',
    help: 'Updates not sent to slow websocket clients (they got a fresh snapshot instead).',
    registers: [registry],
  });
  return { registry, clients, droppedUpdates };
}
