// List-then-watch (what a reflector does): one list for the current state and its resourceVersion,
// then a watch from there; a watch the server closes is resumed with a fresh list. No polling.
import * as k8s from '@kubernetes/client-node';
import type { Cluster } from './connection.js';
import { collectionPath } from './kinds.js';
import { listObjects, type Obj } from './objects.js';

export interface WatchTarget {
  apiVersion: string;
  kind: string;
  plural: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

export class AbortedError extends Error {
  override readonly name = 'AbortedError';
  constructor() {
    super('aborted');
  }
}

const RESUME_DELAY_MS = 200;

/** Calls onChange with every object in scope after the initial list and after each event. Returns stop. */
export function watchObjects(cluster: Cluster, target: WatchTarget, onChange: (objects: Obj[]) => void, onError: (error: Error) => void): () => void {
  const cache = new Map<string, Obj>();
  let stopped = false;
  let controller: AbortController | undefined;
  let resumeTimer: NodeJS.Timeout | undefined;
  const key = (object: Obj) => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

  const start = async (): Promise<void> => {
    if (stopped) return;
    try {
      const list = await listObjects(cluster, target.apiVersion, target.kind, target.namespace, target.labelSelector, target.fieldSelector);
      if (stopped) return;
      cache.clear();
      for (const item of list.items) cache.set(key(item), item);
      onChange([...cache.values()]);
      if (stopped) return;
      const query: Record<string, string> = { resourceVersion: list.resourceVersion };
      if (target.labelSelector) query.labelSelector = target.labelSelector;
      if (target.fieldSelector) query.fieldSelector = target.fieldSelector;
      controller = await new k8s.Watch(cluster.kc).watch(
        collectionPath(target, target.namespace),
        query,
        (type, object: Obj) => {
          if (stopped) return;
          if (type === 'DELETED') cache.delete(key(object));
          else if (type === 'ADDED' || type === 'MODIFIED') cache.set(key(object), object);
          else return;
          onChange([...cache.values()]);
        },
        (error) => {
          if (stopped) return;
          // The server ended the watch (timeout, restart) or it failed: start again from a list.
          resumeTimer = setTimeout(() => void start(), error ? RESUME_DELAY_MS * 5 : RESUME_DELAY_MS);
        },
      );
      if (stopped) controller.abort();
    } catch (error) {
      if (!stopped) onError(error as Error);
    }
  };
  void start();
  return () => {
    stopped = true;
    if (resumeTimer) clearTimeout(resumeTimer);
    controller?.abort();
  };
}

export interface WaitOptions<T> {
  check: (objects: Obj[]) => T | undefined;
  timeoutMs?: number;
  /** The message of the timeout error, from what was last seen. */
  describeTimeout?: (objects: Obj[]) => string;
  signal?: AbortSignal;
}

/** Resolves with check()'s first defined result; rejects on timeout (with a message that says what
 * was still missing), abort, or a failed list. check() may throw to fail early. */
export function waitFor<T>(cluster: Cluster, target: WatchTarget, options: WaitOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let last: Obj[] = [];
    let settled = false;
    const finish = (action: () => void) => {
      if (settled) return;
      settled = true;
      stop();
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      action();
    };
    const onAbort = () => finish(() => reject(new AbortedError()));
    const stop = watchObjects(
      cluster,
      target,
      (objects) => {
        last = objects;
        try {
          const result = options.check(objects);
          if (result !== undefined) finish(() => resolve(result));
        } catch (error) {
          finish(() => reject(error));
        }
      },
      (error) => finish(() => reject(error)),
    );
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              finish(() =>
                reject(
                  new WaitTimeoutError(options.describeTimeout?.(last) ?? `timed out waiting for ${target.kind} in ${target.namespace ?? 'all namespaces'}`),
                ),
              ),
            options.timeoutMs,
          );
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
