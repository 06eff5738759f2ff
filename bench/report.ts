// Turns samples into medians, rates and ratios, and formats the table. Pure.
import type { Measurement, Phase } from './measure.js';
import { median, megabytesPerSecond, ratio } from './stats.js';

export interface Sample extends Measurement {
  transport: string;
  rep: number;
  phase: Phase;
}

export interface PhaseSummary {
  runs: number;
  medianSeconds: number;
  /** The least-disturbed run: on a busy machine closer to the transport's own cost. */
  minSeconds: number;
  /** Dataset bytes over the median time (for a re-sync: how fast it confirms nothing changed). */
  mbPerSecond: number;
  ratioToBaseline: number | null;
  medianCpuClientSeconds: number;
  medianCpuServerSeconds: number;
}

export interface TransportSummary {
  transport: string;
  description: string;
  /** Why it did not run or failed part-way, when it did. */
  error?: string;
  full?: PhaseSummary;
  resync?: PhaseSummary;
}

export interface TransportInfo {
  name: string;
  description: string;
  error?: string;
}

function summarizePhase(samples: Sample[], bytes: number, baselineSeconds: number | undefined): PhaseSummary | undefined {
  if (samples.length === 0) return undefined;
  const seconds = median(samples.map((s) => s.seconds));
  return {
    runs: samples.length,
    medianSeconds: seconds,
    minSeconds: Math.min(...samples.map((s) => s.seconds)),
    mbPerSecond: megabytesPerSecond(bytes, seconds),
    ratioToBaseline: ratio(seconds, baselineSeconds),
    medianCpuClientSeconds: median(samples.map((s) => s.cpuClientSeconds)),
    medianCpuServerSeconds: median(samples.map((s) => s.cpuServerSeconds)),
  };
}

export function summarize(transports: TransportInfo[], samples: Sample[], bytes: number, baseline: string): TransportSummary[] {
  const pick = (transport: string, phase: Phase) => samples.filter((s) => s.transport === transport && s.phase === phase);
  const baselineMedian = (phase: Phase) => {
    const own = pick(baseline, phase);
    return own.length > 0 ? median(own.map((s) => s.seconds)) : undefined;
  };
  return transports.map((t) => {
    const full = summarizePhase(pick(t.name, 'full'), bytes, baselineMedian('full'));
    const resync = summarizePhase(pick(t.name, 'resync'), bytes, baselineMedian('resync'));
    return { transport: t.name, description: t.description, ...(t.error ? { error: t.error } : {}), ...(full ? { full } : {}), ...(resync ? { resync } : {}) };
  });
}

const num = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);

function phaseCells(phase: PhaseSummary | undefined, withMin: boolean): string[] {
  if (!phase) return withMin ? ['-', '-', '-', '-', '-'] : ['-', '-', '-', '-'];
  return [
    num(phase.medianSeconds, 2),
    ...(withMin ? [num(phase.minSeconds, 2)] : []),
    num(phase.mbPerSecond, 0),
    phase.ratioToBaseline === null ? '-' : `${num(phase.ratioToBaseline, 2)}x`,
    `${num(phase.medianCpuClientSeconds, 1)}/${num(phase.medianCpuServerSeconds, 1)}`,
  ];
}

export function formatTable(summaries: TransportSummary[], baseline: string): string {
  const header = ['transport', 'full s', 'min', 'MB/s', `x${baseline}`, 'cpu c/s', 'resync s', 'MB/s', `x${baseline}`, 'cpu c/s'];
  const rows = summaries.map((s) => [s.transport, ...phaseCells(s.full, true), ...phaseCells(s.resync, false)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const notes = summaries.filter((s) => s.error).map((s) => `  ${s.transport}: ${s.error}`);
  const legend = summaries.map((s) => `  ${s.transport.padEnd(widths[0]!)}  ${s.description}`);
  return [
    line(header),
    ...rows.map(line),
    '',
    'medians (min: fastest full copy); MB/s = dataset bytes / seconds (1 MB = 10^6 B); cpu c/s = CPU seconds, client / server side',
    ...legend,
    ...(notes.length > 0 ? ['', 'not measured or failed:', ...notes] : []),
  ].join('\n');
}
