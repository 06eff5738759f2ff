// One timed copy: wall clock from the client's start to its end, and the CPU every process of the
// transport spent meanwhile, split by side. Dirty pages of earlier runs are flushed first (outside
// the timing) so one run's writeback does not land in the next one's time.
import { spawnSync } from 'node:child_process';
import type { CpuMeter } from './processes/cpu-meter.js';
import type { CopyDetails, PreparedTransport } from './transport.js';

export type Phase = 'full' | 'resync';

export interface Measurement {
  seconds: number;
  cpuClientSeconds: number;
  cpuServerSeconds: number;
  details?: CopyDetails;
}

export async function measureCopy(meter: CpuMeter, transport: string, prepared: PreparedTransport, logFile: string): Promise<Measurement> {
  spawnSync('sync');
  const { processes } = prepared;
  const baseline = meter.snapshot(transport, processes);
  const clientBefore = meter.read(transport, 'client', processes);
  const serverBefore = meter.read(transport, 'server', processes);
  const start = process.hrtime.bigint();
  const details = await prepared.copy(logFile);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // The server's per-connection rsync may still be closing; its CPU belongs to this copy.
  await meter.settle(transport, processes, baseline);
  return {
    seconds,
    cpuClientSeconds: meter.read(transport, 'client', processes) - clientBefore,
    cpuServerSeconds: meter.read(transport, 'server', processes) - serverBefore,
    ...(details ? { details } : {}),
  };
}
