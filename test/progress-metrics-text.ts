// Test helper (not a test): a strict reader of the Prometheus text format as /metrics serves it.

/** Every sample line is `name{labels} value` and its family has a TYPE line; returns name{labels} -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\w+) .+$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') typed.add(meta[2]!);
      continue;
    }
    const sample = /^(\w+)(\{[^}]*\})? (-?[\d.e+-]+|NaN)$/.exec(line);
    if (!sample) throw new Error(`not a metrics line: ${line}`);
    if (!typed.has(sample[1]!)) throw new Error(`sample without TYPE: ${line}`);
    samples.set(`${sample[1]}${sample[2] ?? ''}`, Number(sample[3]));
  }
  return samples;
}
