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
  /** Median CPU seconds per GiB of dataset, per side. */
  cpuClientSecondsPerGiB: number;
  cpuServerSecondsPerGiB: number;
  /** What the transport costs on top of the baseline (the tunnel's own CPU), per GiB and side:
   * this transport's median minus the baseline's, same run. Null for the baseline itself. */
  tunnelCpuClientSecondsPerGiB: number | null;
  tunnelCpuServerSecondsPerGiB: number | null;
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

const GIB = 1024 ** 3;

interface BaselineMedians {
  seconds: number;
  cpuClientSeconds: number;
  cpuServerSeconds: number;
}

function medians(samples: Sample[]): BaselineMedians | undefined {
  if (samples.length === 0) return undefined;
  return {
    seconds: median(samples.map((s) => s.seconds)),
    cpuClientSeconds: median(samples.map((s) => s.cpuClientSeconds)),
    cpuServerSeconds: median(samples.map((s) => s.cpuServerSeconds)),
  };
}

function summarizePhase(samples: Sample[], bytes: number, baseline: BaselineMedians | undefined, isBaseline: boolean): PhaseSummary | undefined {
  const own = medians(samples);
  if (!own) return undefined;
  const perGiB = (cpuSeconds: number) => (bytes > 0 ? cpuSeconds / (bytes / GIB) : Number.NaN);
  const extra = (cpuSeconds: number, baselineCpu: number | undefined) =>
    isBaseline || baselineCpu === undefined ? null : perGiB(cpuSeconds) - perGiB(baselineCpu);
  return {
    runs: samples.length,
    medianSeconds: own.seconds,
    minSeconds: Math.min(...samples.map((s) => s.seconds)),
    mbPerSecond: megabytesPerSecond(bytes, own.seconds),
    ratioToBaseline: ratio(own.seconds, baseline?.seconds),
    medianCpuClientSeconds: own.cpuClientSeconds,
    medianCpuServerSeconds: own.cpuServerSeconds,
    cpuClientSecondsPerGiB: perGiB(own.cpuClientSeconds),
    cpuServerSecondsPerGiB: perGiB(own.cpuServerSeconds),
    tunnelCpuClientSecondsPerGiB: extra(own.cpuClientSeconds, baseline?.cpuClientSeconds),
    tunnelCpuServerSecondsPerGiB: extra(own.cpuServerSeconds, baseline?.cpuServerSeconds),
  };
}

export function summarize(transports: TransportInfo[], samples: Sample[], bytes: number, baseline: string): TransportSummary[] {
  const pick = (transport: string, phase: Phase) => samples.filter((s) => s.transport === transport && s.phase === phase);
  return transports.map((t) => {
    const isBaseline = t.name === baseline;
    const full = summarizePhase(pick(t.name, 'full'), bytes, medians(pick(baseline, 'full')), isBaseline);
    const resync = summarizePhase(pick(t.name, 'resync'), bytes, medians(pick(baseline, 'resync')), isBaseline);
    return { transport: t.name, description: t.description, ...(t.error ? { error: t.error } : {}), ...(full ? { full } : {}), ...(resync ? { resync } : {}) };
  });
}

const num = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);

const signed = (value: number | null, digits: number) => (value === null ? '-' : `${value >= 0 ? '+' : ''}${num(value, digits)}`);

function rowCells(s: TransportSummary): string[] {
  const { full, resync } = s;
  const ratioCell = (phase: PhaseSummary | undefined) => (phase?.ratioToBaseline == null ? '-' : `${num(phase.ratioToBaseline, 2)}x`);
  return [
    s.transport,
    num(full?.medianSeconds, 2),
    num(full?.minSeconds, 2),
    ratioCell(full),
    num(full?.cpuClientSecondsPerGiB, 2),
    num(full?.cpuServerSecondsPerGiB, 2),
    full && full.tunnelCpuClientSecondsPerGiB !== null
      ? `${signed(full.tunnelCpuClientSecondsPerGiB, 2)}/${signed(full.tunnelCpuServerSecondsPerGiB, 2)}`
      : '-',
    num(resync?.medianSeconds, 2),
    ratioCell(resync),
    resync ? `${num(resync.medianCpuClientSeconds, 2)}/${num(resync.medianCpuServerSeconds, 2)}` : '-',
  ];
}

export function formatTable(summaries: TransportSummary[], baseline: string): string {
  const header = [
    'transport',
    'full s',
    'min s',
    `x ${baseline}`,
    'client CPU s/GiB',
    'server CPU s/GiB',
    'tunnel CPU s/GiB c/s',
    'resync s',
    `x ${baseline}`,
    'resync CPU s c/s',
  ];
  const rows = summaries.map(rowCells);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const notes = summaries.filter((s) => s.error).map((s) => `  ${s.transport}: ${s.error}`);
  const legend = summaries.map((s) => `  ${s.transport.padEnd(widths[0]!)}  ${s.description}`);
  return [
    line(header),
    ...rows.map(line),
    '',
    `medians; full = empty destination, resync = the same copy again with nothing changed; min s = fastest full copy;`,
    `CPU = every process of a side (agent/stunnel, rsync, helpers), full copy, per GiB of dataset;`,
    `tunnel = that minus ${baseline}'s, same run (what the tunnel itself costs), client/server; resync CPU in seconds, client/server`,
    ...legend,
    ...(notes.length > 0 ? ['', 'not measured or failed:', ...notes] : []),
  ].join('\n');
}
