// Progress for the person at the terminal (or the CI log, or a program reading stdout).
//   bars   cli-progress bars, one per PVC plus the total
//   plain  one line per change, progress at most once a second per PVC: readable in CI logs
//   json   every agent event as one JSON line, then a summary line
//   auto   bars on a TTY, plain otherwise
import type { ProgressAggregate } from './aggregate.js';
import { startBarsView } from './view-bars.js';
import { startJsonView } from './view-json.js';
import { startPlainView } from './view-plain.js';

export type ProgressViewMode = 'auto' | 'json' | 'plain' | 'bars';

export interface ProgressViewOptions {
  mode: ProgressViewMode;
  /** Default process.stdout. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** plain mode: minimum time between two progress lines of one PVC (default 1000). */
  intervalMs?: number;
  /** plain mode: the clock (tests). */
  now?: () => number;
}

export function startProgressView(aggregate: ProgressAggregate, options: ProgressViewOptions): { stop(): void } {
  const stream = options.stream ?? process.stdout;
  const mode = options.mode === 'auto' ? (stream.isTTY === true ? 'bars' : 'plain') : options.mode;
  const write = (line: string) => {
    stream.write(`${line}\n`);
  };
  switch (mode) {
    case 'bars':
      return startBarsView(aggregate, stream);
    case 'json':
      return startJsonView(aggregate, write);
    case 'plain':
      return startPlainView(aggregate, write, { intervalMs: options.intervalMs ?? 1000, now: options.now ?? Date.now });
  }
}
