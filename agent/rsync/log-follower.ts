// Reads what rsync daemons appended to their shared log file since the last read, so their
// messages reach the agent's own log (and so the pod log).
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';

export class LogFollower {
  private offset = 0;

  constructor(readonly path: string) {}

  readNew(): string[] {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return [];
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset = size;
      // "2026/11/23 18:40:49 [1495] message": the date and pid are ours to add.
      return buffer
        .toString('utf8')
        .split('\n')
        .map((line) => line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[\d+\] /, '').trim())
        .filter(Boolean);
    } finally {
      closeSync(fd);
    }
  }
}
