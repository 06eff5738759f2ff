// Medians, rates and ratios. Pure.

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Decimal megabytes per second. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : Number.NaN;
}

export function ratio(value: number, baseline: number | undefined): number | null {
  return baseline !== undefined && baseline > 0 && Number.isFinite(value) ? value / baseline : null;
}
