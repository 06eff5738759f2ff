// Plain lines for logs and CI: a PVC's line when it changes, progress at most once per interval per
// PVC (state changes at once), the totals likewise when there are several PVCs, a summary at the end.
import type { ProgressAggregate, ProgressChange } from './aggregate.js';
import type { ProgressSnapshot, PvcPhase } from './pvc-state.js';
import { pvcLine, summaryLine, totalsLine } from './view-lines.js';

export interface PlainViewOptions {
  intervalMs: number;
  now: () => number;
}

const TOTAL_KEY = '\0total';

export function startPlainView(aggregate: ProgressAggregate, write: (line: string) => void, options: PlainViewOptions): { stop(): void } {
  const lastPrinted = new Map<string, number>();
  const lastState = new Map<string, PvcPhase>();
  const pending = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const lastLine = new Map<string, string>();
  const print = (key: string, line: string) => {
    pending.delete(key);
    if (lastLine.get(key) === line) return; // nothing new to say (e.g. a stalled 0% at start)
    lastLine.set(key, line);
    lastPrinted.set(key, options.now());
    write(line);
  };
  const flush = () => {
    timer = undefined;
    // PVC lines first, the total after them.
    const lines = [...pending].sort(([a], [b]) => Number(a === TOTAL_KEY) - Number(b === TOTAL_KEY));
    for (const [key, line] of lines) print(key, line);
  };
  const offer = (key: string, line: string, immediate: boolean) => {
    const last = lastPrinted.get(key);
    if (immediate || last === undefined || options.now() - last >= options.intervalMs) {
      print(key, line);
      return;
    }
    pending.set(key, line);
    timer ??= setTimeout(flush, options.intervalMs).unref();
  };

  const onChange = ({ event, pvc, totals }: ProgressChange) => {
    const stateChanged = lastState.get(pvc.pvc) !== pvc.state;
    lastState.set(pvc.pvc, pvc.state);
    offer(pvc.pvc, pvcLine(pvc), stateChanged || event.type !== 'progress');
    if (totals.pvcs > 1) offer(TOTAL_KEY, totalsLine(totals), false);
  };
  const onFinished = (snapshot: ProgressSnapshot) => {
    if (timer) clearTimeout(timer);
    flush();
    for (const pvc of snapshot.pvcs) {
      if (lastState.get(pvc.pvc) !== pvc.state) write(pvcLine(pvc));
      lastState.set(pvc.pvc, pvc.state);
    }
    write(summaryLine(snapshot));
  };

  aggregate.on('change', onChange);
  aggregate.on('finished', onFinished);
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      aggregate.off('change', onChange);
      aggregate.off('finished', onFinished);
      if (timer) clearTimeout(timer);
      flush();
    },
  };
}
