// Terminal bars (cli-progress): one per PVC and a total at the bottom, redrawn in place; when the
// migration finishes the bars stay on screen with their final values and a summary line follows.
import cliProgress from 'cli-progress';
import type { ProgressAggregate, ProgressChange } from './aggregate.js';
import { formatBytes, formatDuration, formatPercent, formatRate } from './format.js';
import type { ProgressSnapshot, ProgressTotals, PvcState } from './pvc-state.js';
import { summaryLine } from './view-lines.js';

type Stream = NodeJS.WritableStream & { isTTY?: boolean };

const FORMAT = ' {label} {bar} {pct} | {amount} | {rate} | ETA {etaText} | {tries} | {state}';

interface Row {
  label: string;
  state: string;
  percent: number;
  bytes: number;
  totalBytes: number;
  rateBps: number;
  etaSeconds: number | null;
  tries: string;
}

function pvcRow(p: PvcState): Row {
  return { label: p.pvc, ...p, state: p.state === 'Failed' ? `Failed: ${p.message}` : p.state, tries: `attempt ${p.attempt || '-'}` };
}

function totalRow(t: ProgressTotals): Row {
  return { label: 'total', ...t, tries: `${t.attempts} attempt${t.attempts === 1 ? '' : 's'}` };
}

function payload(row: Row, labelWidth: number) {
  return {
    label: row.label.padEnd(labelWidth),
    pct: formatPercent(row.percent).padStart(6),
    amount: (row.totalBytes > 0 ? `${formatBytes(row.bytes)}/${formatBytes(row.totalBytes)}` : formatBytes(row.bytes)).padStart(21),
    rate: formatRate(row.rateBps).padStart(12),
    // Not `eta`: cli-progress fills its own {eta} token and would overwrite ours.
    etaText: formatDuration(row.etaSeconds).padStart(7),
    tries: row.tries,
    state: row.state,
  };
}

export function startBarsView(aggregate: ProgressAggregate, stream: Stream): { stop(): void } {
  const multibar = new cliProgress.MultiBar({
    stream,
    format: FORMAT,
    barsize: 24,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: false,
    gracefulExit: false,
    clearOnComplete: false,
    stopOnComplete: false,
    autopadding: false,
    fps: 5,
    noTTYOutput: stream.isTTY !== true,
    notTTYSchedule: 2000,
  });
  const snapshot = aggregate.snapshot();
  let labelWidth = Math.max(5, ...snapshot.pvcs.map((p) => p.pvc.length));
  const bars = new Map<string, cliProgress.SingleBar>();
  const show = (bar: cliProgress.SingleBar, row: Row) => bar.update(row.percent, payload(row, labelWidth));
  for (const p of snapshot.pvcs) bars.set(p.pvc, multibar.create(100, p.percent, payload(pvcRow(p), labelWidth)));
  let total = multibar.create(100, snapshot.totals.percent, payload(totalRow(snapshot.totals), labelWidth));
  let stopped = false;

  const onChange = ({ pvc, totals }: ProgressChange) => {
    let bar = bars.get(pvc.pvc);
    if (!bar) {
      // A PVC nobody announced: add its bar and keep the total last.
      labelWidth = Math.max(labelWidth, pvc.pvc.length);
      multibar.remove(total);
      bar = multibar.create(100, 0, payload(pvcRow(pvc), labelWidth));
      bars.set(pvc.pvc, bar);
      total = multibar.create(100, totals.percent, payload(totalRow(totals), labelWidth));
    }
    show(bar, pvcRow(pvc));
    show(total, totalRow(totals));
  };
  const finalize = (final: ProgressSnapshot | undefined) => {
    if (stopped) return;
    stopped = true;
    aggregate.off('change', onChange);
    aggregate.off('finished', onFinished);
    if (final) {
      for (const p of final.pvcs) {
        const bar = bars.get(p.pvc);
        if (bar) show(bar, pvcRow(p));
      }
      show(total, totalRow(final.totals));
    }
    multibar.stop();
    if (final) stream.write(`${summaryLine(final)}\n`);
  };
  const onFinished = (final: ProgressSnapshot) => finalize(final);
  aggregate.on('change', onChange);
  aggregate.on('finished', onFinished);
  return { stop: () => finalize(undefined) };
}
