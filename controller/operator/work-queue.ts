// Reconcile requests by key ("namespace/name"): one reconcile per key at a time (a request while it
// runs marks the key dirty and it runs once more after), keys in parallel, failures retried with
// exponential backoff. What client-go's workqueue does, as much of it as one process needs.
import type { Logger } from 'pino';
import { describeApiError } from '../cluster/api-error.js';

export interface WorkQueueOptions {
  log: Logger;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly processing = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly work: (key: string) => Promise<void>,
    private readonly options: WorkQueueOptions,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    const timer = this.timers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(key);
    }
    this.processing.set(key, this.run(key));
  }

  /** No new work; resolves once the reconciles in progress have returned. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.processing.values()]);
  }

  private async run(key: string): Promise<void> {
    try {
      await this.work(key);
      this.failures.delete(key);
    } catch (error) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const delay = Math.min(this.options.maxDelayMs ?? 60_000, (this.options.baseDelayMs ?? 500) * 2 ** (failures - 1));
      this.options.log.warn({ key, failures, retryInMs: delay, err: describeApiError(error) }, 'reconcile failed; retrying');
      if (!this.stopped)
        this.timers.set(
          key,
          setTimeout(() => {
            this.timers.delete(key);
            this.add(key);
          }, delay),
        );
    } finally {
      this.processing.delete(key);
      if (this.dirty.delete(key)) this.add(key);
    }
  }
}
