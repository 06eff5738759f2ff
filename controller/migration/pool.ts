// Runs tasks with at most `limit` at once, results in input order. On the first failure it calls
// onFirstError (to abort the others) and still waits for every started task to settle, so nothing
// is left creating objects while cleanup runs.
export async function runPooled<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>, onFirstError: (error: unknown) => void): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let firstError: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !firstError) {
      const index = next++;
      try {
        results[index] = await task(items[index]!);
      } catch (error) {
        if (!firstError) {
          firstError = { error };
          onFirstError(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError) throw firstError.error;
  return results;
}
