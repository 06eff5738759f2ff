// Turns rsync's per-attempt progress2 samples into the migration's progress: monotonic across
// attempts (a retry re-walks files already copied; that must not show as going backwards or count
// twice), with a rate and ETA of our own.
import type { Progress2Sample } from '../rsync/progress2.js';
import type { ProgressEvent } from '../../contract/events.js';

const RATE_WINDOW_MS = 5_000;
/** The rate window keeps at most one point per this long (plus the newest sample): its size is
 * bounded by time, not by how many lines rsync prints. rsync prints a line per file, so a tree of
 * 200,000 small files sends tens of thousands a second; a window of every sample made each update
 * move the whole array (Array.prototype.shift on a large array is a copy) and the agent's event loop
 * spent more CPU than the copy itself, slowing rsync down through its pty (bench/README.md). */
const RATE_STEP_MS = 100;
const STALLED_AFTER_MS = 3_000;
/** Below 100 until rsync has said the copy is complete. */
const MAX_RUNNING_PERCENT = 99.9;

export class ProgressTracker {
  private bytes = 0;
  private percent = 0;
  private files = 0;
  private attempt = 1;
  private readonly startedAt = Date.now();
  /** Points for the rate, oldest first, at least RATE_STEP_MS apart; the newest sample is `latest`. */
  private window: { at: number; bytes: number }[] = [];
  private latest: { at: number; bytes: number } | null = null;

  /** totalBytes is the walk's measure of the source, null while the walk runs: it runs beside the
   * first rsync, and a small copy can finish before it does. bytes is what rsync says it sent, never
   * clamped to the total (clamping to an unknown one, once 0, made such a copy report 0 bytes sent);
   * the events' totalBytes is raised to bytes instead (a source that grew during the copy, or one
   * not measured yet), so bytes never exceeds it and never goes backwards. */
  constructor(
    private readonly pvc: string,
    private totalBytes: number | null,
    private filesTotal: number,
  ) {}

  /** The source's size, when it is measured after the tracker was made. */
  setTotals(totalBytes: number, filesTotal: number): void {
    this.totalBytes = totalBytes;
    this.filesTotal = Math.max(this.filesTotal, filesTotal);
  }

  startAttempt(attempt: number): void {
    this.attempt = attempt;
    this.window = [];
    this.latest = null;
  }

  update(sample: Progress2Sample, now = Date.now()): void {
    if (sample.listSize > 0) this.filesTotal = Math.max(this.filesTotal, sample.listSize);
    const checked = sample.listSize > 0 ? sample.listSize - sample.toCheck : 0;
    this.files = Math.max(this.files, Math.min(checked, this.filesTotal));
    this.bytes = Math.max(this.bytes, sample.bytes);
    this.percent = Math.max(this.percent, this.estimatePercent(sample, checked));
    this.latest = { at: now, bytes: sample.bytes };
    const kept = this.window[this.window.length - 1];
    if (kept === undefined || now - kept.at >= RATE_STEP_MS) this.window.push(this.latest);
    while (this.window.length > 2 && now - (this.window[0]?.at ?? now) > RATE_WINDOW_MS) this.window.shift();
  }

  /** Transferred bytes plus unchanged entries weighted by the mean entry size: a re-sync that finds
   * nothing to send still moves towards 100 as rsync checks files. */
  private estimatePercent(sample: Progress2Sample, checked: number): number {
    if (!this.totalBytes) return this.filesTotal === 0 ? 0 : Math.min(MAX_RUNNING_PERCENT, (100 * checked) / this.filesTotal);
    const meanEntryBytes = this.filesTotal > 0 ? this.totalBytes / this.filesTotal : 0;
    const unchanged = Math.max(0, checked - sample.transferred) * meanEntryBytes;
    return Math.min(MAX_RUNNING_PERCENT, (100 * (sample.bytes + unchanged)) / this.totalBytes);
  }

  /** bytes stays what was sent: a re-sync that finds little to do is complete with little sent. */
  complete(): void {
    this.percent = 100;
    this.files = this.filesTotal;
  }

  get transferredBytes(): number {
    return this.bytes;
  }

  get checkedFiles(): number {
    return this.files;
  }

  /** How many points the rate window holds (bounded by time: at most RATE_WINDOW_MS / RATE_STEP_MS + 2). */
  get rateWindowPoints(): number {
    return this.window.length;
  }

  private rateBps(now: number): number {
    const first = this.window[0];
    const last = this.latest;
    if (!first || !last || last.at - first.at < 200) return 0;
    // rsync prints while bytes move; silence this long means the transfer is stalled.
    if (now - last.at > STALLED_AFTER_MS) return 0;
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.at - first.at));
  }

  snapshot(now = Date.now()): ProgressEvent {
    const rateBps = this.percent >= 100 ? 0 : Math.round(this.rateBps(now));
    const remaining = Math.max(0, (this.totalBytes ?? 0) * (1 - this.percent / 100));
    return {
      type: 'progress',
      pvc: this.pvc,
      attempt: this.attempt,
      bytes: this.bytes,
      totalBytes: Math.max(this.totalBytes ?? 0, this.bytes),
      percent: Math.round(this.percent * 10) / 10,
      rateBps,
      etaSeconds: this.percent >= 100 ? 0 : rateBps > 0 && this.totalBytes !== null ? Math.round(remaining / rateBps) : null,
      files: this.files,
      filesTotal: this.filesTotal,
      elapsedMs: now - this.startedAt,
    };
  }
}
