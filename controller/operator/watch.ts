// Which DirectVolumeMigrations need a reconcile: list-then-watch (cluster/watch.ts) over one
// namespace or all, and every key whose resourceVersion changed, that appeared or that vanished is
// handed on. The first list hands on every key: after a restart each resource is looked at once.
import type { Logger } from 'pino';
import { describeApiError } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import { watchObjects } from '../cluster/watch.js';
import { DVM_RESOURCE, dvmKey } from './resources.js';

const RESTART_DELAY_MS = 2000;

export function watchDirectVolumeMigrations(cluster: Cluster, namespace: string | undefined, onKey: (key: string) => void, log: Logger): () => void {
  const seen = new Map<string, string>();
  let stopWatch: (() => void) | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  const start = () => {
    stopWatch = watchObjects(
      cluster,
      { ...DVM_RESOURCE, ...(namespace ? { namespace } : {}) },
      (objects) => {
        const present = new Set<string>();
        for (const object of objects) {
          const key = dvmKey(object);
          present.add(key);
          const version = object.metadata?.resourceVersion ?? '';
          if (seen.get(key) === version) continue;
          seen.set(key, version);
          onKey(key);
        }
        for (const key of [...seen.keys()]) {
          if (present.has(key)) continue;
          seen.delete(key);
          onKey(key);
        }
      },
      (error) => {
        // A failed list (the CRD not installed yet, a permission missing): say so and try again.
        log.error({ err: describeApiError(error) }, 'cannot list DirectVolumeMigrations; retrying');
        if (!stopped) restartTimer = setTimeout(start, RESTART_DELAY_MS);
      },
    );
  };
  start();
  return () => {
    stopped = true;
    if (restartTimer) clearTimeout(restartTimer);
    stopWatch?.();
  };
}
