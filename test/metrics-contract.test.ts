// The client agent's /metrics (one PVC, in its pod) and the controller's /metrics (every PVC of a
// run) report the same values under the same names and labels (contract/metric-names.ts): fed the
// same agent events, both registries agree on every shared metric.
import t from 'tap';
import { createClientMetrics } from '../agent/progress/metrics.js';
import type { AgentEvent } from '../contract/events.js';
import { PVC_METRICS } from '../contract/metric-names.js';
import { ProgressAggregate } from '../controller/progress/aggregate.js';
import { createProgressMetrics } from '../controller/progress/metrics.js';

const PVC = 'shop/db-data';
const progress = (bytes: number, files: number, elapsedMs: number): AgentEvent => ({
  type: 'progress',
  pvc: PVC,
  attempt: 1,
  bytes,
  totalBytes: 10_000,
  percent: bytes / 100,
  rateBps: 1000,
  etaSeconds: 5,
  files,
  filesTotal: 20,
  elapsedMs,
});
const events: AgentEvent[] = [
  progress(1000, 3, 1000),
  progress(4000, 9, 2000),
  { type: 'attempt', pvc: PVC, attempt: 1, exitCode: 12, reason: 'connection lost', retryInMs: 2000 },
  progress(4000, 9, 4000),
  progress(9000, 18, 6000),
  { type: 'result', pvc: PVC, status: 'Succeeded', exitCode: 0, bytes: 10_000, files: 20, durationMs: 7000, verified: null, attempts: 2, message: 'ok' },
];

/** name{labels} -> value, from the Prometheus text format. */
async function scrape(text: Promise<string>): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const line of (await text).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

t.test("agent and controller expose a PVC's copy under the same names, with the same values", async (t) => {
  const agent = createClientMetrics(PVC);
  const aggregate = new ProgressAggregate([PVC]);
  const controller = createProgressMetrics(aggregate);
  for (const [index, event] of events.entries()) {
    agent.record(event);
    aggregate.apply(event);
    // Scrape the controller mid-way too: its counters follow the aggregate between scrapes.
    if (index === 1) await controller.registry.metrics();
  }
  const fromAgent = await scrape(agent.registry.metrics());
  const fromController = await scrape(controller.registry.metrics());
  const labels = '{namespace="shop",pvc="db-data"}';
  for (const name of [PVC_METRICS.transferredBytes, PVC_METRICS.filesProcessed, PVC_METRICS.sourceBytes, PVC_METRICS.transferDuration]) {
    t.ok(fromAgent.has(`${name}${labels}`), `the agent has ${name}`);
    t.equal(fromAgent.get(`${name}${labels}`), fromController.get(`${name}${labels}`), `${name}: the same value on both sides`);
  }
  t.equal(fromAgent.get(`${PVC_METRICS.transferredBytes}${labels}`), 10_000, 'the bytes of the result');
  t.equal(fromAgent.get(`${PVC_METRICS.failedAttempts}${labels}`), 1, 'one failed attempt');
});
