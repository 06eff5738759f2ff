// Input files (agent config, spec, settings) are read with a size bound, checked before anything
// is parsed: a 50 MB spec must get one clear line at once, not minutes of YAML parsing and
// gigabytes of memory. The bound holds for files without a size too (a FIFO, /dev/zero).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** 1 MiB: a spec of thousands of PVCs, or any settings file or agent config, fits many times over. */
export const MAX_INPUT_BYTES = 1024 * 1024;

export class InputTooLargeError extends Error {
  override readonly name = 'InputTooLargeError';
}

function limit(bytes: number): string {
  return bytes % 2 ** 20 === 0 ? `${bytes / 2 ** 20} MiB` : `${bytes} bytes`;
}

/** The file's text, or an InputTooLargeError ("<what> <file> is too big: ..."); other failures are
 * the fs errors (ENOENT, EISDIR, ...). */
export function readBoundedText(file: string, what: string, maxBytes = MAX_INPUT_BYTES): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd);
    if (size.isFile() && size.size > maxBytes) {
      throw new InputTooLargeError(`${what} ${file} is too big: ${size.size} bytes, at most ${limit(maxBytes)}`);
    }
    const buffer = Buffer.allocUnsafe(maxBytes + 1);
    let length = 0;
    while (length <= maxBytes) {
      const read = readSync(fd, buffer, length, maxBytes + 1 - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) throw new InputTooLargeError(`${what} ${file} is too big: more than ${limit(maxBytes)}`);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}
