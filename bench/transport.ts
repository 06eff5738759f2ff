// The one interface every way of moving the data implements. Adding a transport (a tuning variant,
// another tunnel) is one object in transports/index.ts: prepare once, copy many times, tear down.
import type { PkiFiles } from './pki-files.js';
import type { CommandLine } from './processes/cpu-meter.js';

export interface TransportContext {
  /** Private scratch directory (configs, logs) for this transport. */
  workDir: string;
  /** The destination the server side writes into. The benchmark empties it before each full copy;
   * the directory itself always exists when copy() is called. */
  destDir: string;
  /** The dataset root (copy its contents: SRC/). */
  sourceDir: string;
  pki: PkiFiles;
  /** Wraps a command line so its CPU is charged to this transport's client or server side. Every
   * process a transport starts goes through it. */
  charge(side: ChargedProcess['side'], command: string, args: string[]): CommandLine;
}

/** e.g. { agentDurationMs }: how long the agent says the copy took, startup excluded. */
export type CopyDetails = Record<string, number>;

/** A long-lived process whose CPU time is charged to one side of the copy. */
export interface ChargedProcess {
  pid: number;
  side: 'client' | 'server';
}

export interface PreparedTransport {
  /** Long-lived processes (daemons, tunnels). Processes copy() spawns and waits for are counted
   * on the client side automatically. */
  processes: ChargedProcess[];
  /** One rsync run of sourceDir into destDir; resolves when it succeeded, rejects otherwise.
   * May resolve with figures the transport knows about itself (kept in the JSON samples). */
  copy(logFile: string): Promise<CopyDetails | void>;
  teardown(): Promise<void>;
}

export interface Transport {
  name: string;
  /** One line for the table legend and the JSON. */
  description: string;
  /** A reason this transport cannot run here (missing binary, agent not built), or undefined. */
  unavailable(): string | undefined;
  prepare(context: TransportContext): Promise<PreparedTransport>;
}
