// Machine-readable: every agent event as one JSON line (the agent's own schema), then one summary
// line {"type":"summary", pvcs, totals, finished} when the migration finishes.
import type { ProgressAggregate, ProgressChange } from './aggregate.js';
import { summaryMessage } from './messages.js';
import type { ProgressSnapshot } from './pvc-state.js';

export function startJsonView(aggregate: ProgressAggregate, write: (line: string) => void): { stop(): void } {
  const onChange = ({ event }: ProgressChange) => write(JSON.stringify(event));
  const onFinished = (snapshot: ProgressSnapshot) => write(JSON.stringify(summaryMessage(snapshot)));
  aggregate.on('change', onChange);
  aggregate.on('finished', onFinished);
  return {
    stop() {
      aggregate.off('change', onChange);
      aggregate.off('finished', onFinished);
    },
  };
}
