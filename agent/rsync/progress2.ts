// Parses rsync's --info=progress2 lines, e.g.
//   "    123,456,789  45%   12.34MB/s    0:00:12 (xfr#12, to-chk=100/1200)"
// rsync rewrites the line with \r, so the input is split on both \r and \n. Digit grouping depends
// on the locale, so separators are stripped rather than assumed.

export interface Progress2Sample {
  bytes: number;
  percent: number;
  /** Files transferred so far in this run. */
  transferred: number;
  /** Entries still to check, and the file-list size they are out of. */
  toCheck: number;
  listSize: number;
}

const LINE = /^\s*([\d.,']+)\s+(\d{1,3})%\s+\S+\s+\S+(?:\s+\(xfr#(\d+),\s*(?:ir|to)-chk=(\d+)\/(\d+)\))?\s*$/;

export function parseProgress2Line(line: string): Progress2Sample | null {
  const match = LINE.exec(line);
  if (!match) return null;
  return {
    bytes: Number((match[1] ?? '0').replace(/[^\d]/g, '')),
    percent: Number(match[2]),
    transferred: Number(match[3] ?? 0),
    toCheck: Number(match[4] ?? 0),
    listSize: Number(match[5] ?? 0),
  };
}

/** Splits a pty stream into lines (\r or \n terminated), keeping the unfinished tail. */
export class LineSplitter {
  private tail = '';

  push(chunk: string): string[] {
    const parts = (this.tail + chunk).split(/\r\n|\r|\n/);
    this.tail = parts.pop() ?? '';
    return parts.filter((part) => part.length > 0);
  }

  flush(): string[] {
    const rest = this.tail;
    this.tail = '';
    return rest.length > 0 ? [rest] : [];
  }
}
