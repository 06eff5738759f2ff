// The order measurements run in. Transports are interleaved and the order rotates each repetition,
// so slow drifts of a noisy machine (other jobs, thermal, writeback) land on every transport alike
// and no transport always runs first. Pure.

export interface ScheduledRun {
  rep: number;
  transport: string;
}

export function interleavedSchedule(transports: string[], reps: number): ScheduledRun[] {
  const runs: ScheduledRun[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (let i = 0; i < transports.length; i++) {
      runs.push({ rep: rep + 1, transport: transports[(i + rep) % transports.length]! });
    }
  }
  return runs;
}
