// Giving back what a CutOver with quiescePods stopped, outside the run that stopped it. The run
// itself restores when its copy fails or is cancelled (migration/run.ts); this file covers the two
// cases no run is there for:
//   - on request: the annotation migration.openshift.io/dvm-unquiesce: "true" on the
//     DirectVolumeMigration, in any phase (also after a CutOver that succeeded, whose applications
//     stay stopped on the source until someone asks);
//   - on delete, when no run of this process is going (its predecessor died mid-copy), unless the
//     migration had succeeded.
// Workloads are found by the run id annotated on them (the DVM's uid), never from memory.
import type { Clusters } from '../migration/context.js';
import { restoreWorkloads } from '../migration/quiesce.js';
import { WriteCounter, SHARED } from '../cluster/write-counter.js';
import { ANNOTATION_UNQUIESCE } from '../manifests/labels.js';
import { describeWorkloads } from '../manifests/workloads.js';
import type { OperatorContext } from './context.js';
import { patchStatus } from './custom-objects.js';
import { DVM_RESOURCE, dvmKey, type DirectVolumeMigration } from './resources.js';

/** The annotation asks for it and the status says something is still held. */
export function unquiesceRequested(dvm: DirectVolumeMigration): boolean {
  return dvm.metadata.annotations?.[ANNOTATION_UNQUIESCE] === 'true' && (dvm.status?.quiescedWorkloads?.length ?? 0) > 0;
}

/** Restores, then says so: in the status of a run this process drives (its writer owns the status
 * now), or straight in the resource's status. */
export async function unquiesce(
  ctx: OperatorContext,
  dvm: DirectVolumeMigration,
  clusters: Clusters,
  sourceNamespaces: readonly string[],
  why: string,
): Promise<void> {
  const restored = await restoreWorkloads(clusters.source, dvm.metadata.uid, sourceNamespaces, new WriteCounter(), SHARED);
  const message = restored.length > 0 ? `${why}: restored ${describeWorkloads(restored)}` : `${why}: nothing left to restore`;
  ctx.log.info({ dvm: dvmKey(dvm), restored: restored.length }, message);
  ctx.recorder.record(dvm, 'Normal', 'Unquiesced', message);
  const run = ctx.runs.get(dvmKey(dvm));
  if (run) {
    run.status.quiesced([]);
    await run.status.flush();
  } else if (!dvm.metadata.deletionTimestamp) await patchStatus(ctx.local, DVM_RESOURCE, dvm.metadata.namespace, dvm.metadata.name, { quiescedWorkloads: [] });
}
