// Keeps each server pod of a run in place while its clients copy. A server pod deleted or evicted
// mid-copy is created again from the same manifest: its Secrets, Service and endpoint stay, so the
// clients' next retry reaches the new pod instead of backing off against a Service with no
// endpoints until their retries run out (about 30 minutes with the default backoff).
import { isAlreadyExists, isNotFound, describeApiError } from '../cluster/api-error.js';
import { POD_KIND } from '../cluster/kinds.js';
import { createObject, type Obj } from '../cluster/objects.js';
import { watchObjects } from '../cluster/watch.js';
import { SHARED } from '../cluster/write-counter.js';
import type { KubeObject } from '../manifests/render.js';
import type { RunContext } from './context.js';

/** Starts watching; returns stop(), to be called before the run's cleanup deletes the pods. */
export function superviseServers(context: RunContext, pods: readonly KubeObject[]): () => void {
  const stops = pods.map((pod) => superviseOne(context, pod));
  return () => stops.forEach((stop) => stop());
}

function superviseOne(context: RunContext, manifest: KubeObject): () => void {
  const { name, namespace } = manifest.metadata as { name: string; namespace: string };
  const cluster = context.clusters.destination;
  let stopped = false;
  let replacing = false;
  const replace = async (why: string, failed?: Obj): Promise<void> => {
    if (replacing || stopped) return;
    replacing = true;
    context.log.warn({ pod: `${namespace}/${name}`, why }, 'server pod gone mid-copy; creating it again');
    context.emit({ type: 'phase', phase: 'servers', message: `server pod ${namespace}/${name} ${why}; creating it again` });
    try {
      // An evicted pod stays as a Failed object: it must go before its name can be used again.
      if (failed)
        await cluster.objects.delete(failed, undefined, undefined, 0).catch((error) => {
          if (!isNotFound(error)) throw error;
        });
      else await createObject(cluster, manifest, context.writes, SHARED);
    } catch (error) {
      if (!isAlreadyExists(error)) context.log.error({ pod: `${namespace}/${name}`, err: describeApiError(error) }, 'cannot replace the server pod');
    } finally {
      replacing = false;
    }
  };
  const stop = watchObjects(
    cluster,
    { ...POD_KIND, namespace, fieldSelector: `metadata.name=${name}` },
    (found) => {
      const pod = found[0];
      if (!pod) void replace('was deleted');
      else if (pod.status?.phase === 'Failed') void replace(`failed (${pod.status?.reason ?? 'unknown reason'})`, pod);
    },
    (error) => context.log.warn({ err: error.message }, 'server pod watch failed'),
  );
  return () => {
    stopped = true;
    stop();
  };
}
