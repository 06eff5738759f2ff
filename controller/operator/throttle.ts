// Writes of one object's status at a bounded rate: at most one write starts per interval, a value
// set sooner waits for the interval to end and the newest value then wins (intermediate ones are
// never written), and flush() waits until the newest value is written. Writes never overlap, so
// they reach the API server in order. A failed write is retried with the next slot unless a newer
// value replaced it; after MAX_FAILURES in a row the value is dropped, so flush() cannot hang on an
// object that is gone or a permission that is missing.
export interface ThrottleOptions {
  intervalMs: number;
  onError: (error: unknown) => void;
  now?: () => number;
}

const MAX_FAILURES = 5;

export class ThrottledWriter<T> {
  private failures = 0;
  private pending: { value: T } | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private inflight = false;
  private closed = false;
  private waiters: Array<() => void> = [];
  private readonly now: () => number;

  constructor(
    private readonly write: (value: T) => Promise<void>,
    private readonly options: ThrottleOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Writes started so far (what the rate bound is about). */
  writes = 0;

  set(value: T): void {
    if (this.closed) return;
    this.pending = { value };
    this.schedule();
  }

  /** Resolves once nothing is pending or in flight (at once after close()). */
  flush(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drops what is pending; a write in flight still completes. */
  close(): void {
    this.closed = true;
    this.pending = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.settleWaiters();
  }

  private idle(): boolean {
    return this.closed || (this.pending === undefined && !this.inflight);
  }

  private schedule(): void {
    if (this.inflight || this.timer || this.pending === undefined || this.closed) return;
    const wait = this.lastStart + this.options.intervalMs - this.now();
    if (wait <= 0) void this.writeNext();
    else
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.writeNext();
      }, wait);
  }

  private async writeNext(): Promise<void> {
    const next = this.pending;
    if (!next || this.closed) return;
    this.pending = undefined;
    this.inflight = true;
    this.lastStart = this.now();
    this.writes += 1;
    try {
      await this.write(next.value);
      this.failures = 0;
    } catch (error) {
      this.options.onError(error);
      this.failures += 1;
      if (this.failures < MAX_FAILURES) this.pending ??= next;
      else this.failures = 0;
    } finally {
      this.inflight = false;
    }
    this.schedule();
    this.settleWaiters();
  }

  private settleWaiters(): void {
    if (!this.idle()) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
