// The migrations this process drives right now, by DirectVolumeMigration ("namespace/name"). A run
// stays listed until its final status is written, so a reconcile in between never mistakes it for
// one a dead predecessor left behind.
import type { MigrationHandle } from '../migration/handle.js';
import type { DvmStatusWriter } from './status-writer.js';

export interface ActiveRun {
  key: string;
  uid: string;
  handle: MigrationHandle;
  /** Owns the resource's status while the run goes. */
  status: DvmStatusWriter;
  /** Resolves once the run is over and its outcome written (or dropped, when it was deleted). */
  done: Promise<void>;
  /** Set before cancel() when the resource is being deleted: no final status is written then. */
  deleting: boolean;
}

export class ActiveRuns {
  private readonly runs = new Map<string, ActiveRun>();

  get(key: string): ActiveRun | undefined {
    return this.runs.get(key);
  }

  add(run: ActiveRun): void {
    this.runs.set(run.key, run);
  }

  remove(key: string): void {
    this.runs.delete(key);
  }

  all(): ActiveRun[] {
    return [...this.runs.values()];
  }
}
