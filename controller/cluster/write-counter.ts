// Counts the API writes (create/patch/delete) the controller makes, per PVC and for shared objects,
// so the cost of a run is a reported number, not a guess.
export const SHARED = '(shared)';

export class WriteCounter {
  private readonly counts = new Map<string, number>();

  record(scope: string, count = 1): void {
    this.counts.set(scope, (this.counts.get(scope) ?? 0) + count);
  }

  total(): number {
    return [...this.counts.values()].reduce((sum, value) => sum + value, 0);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
