// Moves bytes one way, from a readable to a writable, ending the writable when the readable ends
// (half-close: rsync ends its side first and still reads the final stats).
import type { Readable, Writable } from 'node:stream';
import type { TunnelKnobs } from './knobs.js';

function pumpCorked(from: Readable, to: Writable): void {
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    to.uncork();
  };
  from.on('data', (chunk: Buffer) => {
    // Everything read in one event-loop turn leaves in one writev (fewer TLS writes and syscalls).
    if (!flushScheduled) {
      flushScheduled = true;
      to.cork();
      setImmediate(flush);
    }
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => {
    if (flushScheduled) flush();
    to.end();
  });
}

export function pump(from: Readable, to: Writable, knobs: TunnelKnobs): void {
  if (knobs.relay === 'corked') pumpCorked(from, to);
  else from.pipe(to);
}
