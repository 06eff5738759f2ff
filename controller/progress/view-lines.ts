// One-line descriptions of a PVC, the totals and the final summary, for logs and terminals.
import { formatBytes, formatDuration, formatPercent, formatRate } from './format.js';
import type { ProgressSnapshot, ProgressTotals, PvcState } from './pvc-state.js';

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function amount(bytes: number, totalBytes: number): string {
  return totalBytes > 0 ? `${formatBytes(bytes)}/${formatBytes(totalBytes)}` : formatBytes(bytes);
}

export function pvcLine(p: PvcState): string {
  switch (p.state) {
    case 'Pending':
      return `${p.pvc}: Pending`;
    case 'Running':
      return (
        `${p.pvc}: Running ${formatPercent(p.percent)} ${amount(p.bytes, p.totalBytes)} at ${formatRate(p.rateBps)}, ` +
        `ETA ${formatDuration(p.etaSeconds)}, files ${p.files}/${p.filesTotal}, attempt ${p.attempt}` +
        (p.message ? ` (${p.message})` : '')
      );
    case 'Retrying': {
      const wait = p.retryInMs === null ? '' : `, retry in ${formatDuration(p.retryInMs / 1000)}`;
      return `${p.pvc}: Retrying after attempt ${p.attempt} exited ${p.exitCode ?? '?'}: ${p.message}${wait}`;
    }
    case 'Succeeded': {
      const verified = p.verified === null ? '' : p.verified ? ', verified' : ', verify FAILED';
      return (
        `${p.pvc}: Succeeded ${formatPercent(p.percent)} ${formatBytes(p.bytes)} sent, ${plural(p.files, 'file')} ` +
        `in ${formatDuration((p.durationMs ?? p.elapsedMs) / 1000)}, ${plural(p.attempts, 'attempt')}${verified}` +
        (p.message ? ` (${p.message})` : '')
      );
    }
    case 'Failed':
      return `${p.pvc}: Failed after ${plural(p.attempts, 'attempt')} (exit ${p.exitCode ?? '?'}): ${p.message || 'no message'}`;
  }
}

function counts(t: ProgressTotals): string {
  const parts = [
    t.running && `${t.running} running`,
    t.retrying && `${t.retrying} retrying`,
    t.pending && `${t.pending} pending`,
    t.succeeded && `${t.succeeded} succeeded`,
    t.failed && `${t.failed} failed`,
  ].filter(Boolean);
  return parts.join(', ');
}

export function totalsLine(t: ProgressTotals): string {
  return (
    `total: ${t.state} ${formatPercent(t.percent)} ${amount(t.bytes, t.totalBytes)} at ${formatRate(t.rateBps)}, ` +
    `ETA ${formatDuration(t.etaSeconds)} (${counts(t)})`
  );
}

export function summaryLine(s: ProgressSnapshot): string {
  const t = s.totals;
  const outcome = t.state === 'Succeeded' || t.state === 'Failed' ? t.state : `incomplete (${counts(t)})`;
  return (
    `finished: ${outcome}: ${t.succeeded} of ${plural(t.pvcs, 'PVC')} succeeded, ${formatBytes(t.bytes)} sent, ` +
    `${plural(t.files, 'file')}, ${plural(t.attempts, 'attempt')} in ${formatDuration(t.elapsedMs / 1000)}` +
    (s.message ? ` (${s.message})` : '')
  );
}
