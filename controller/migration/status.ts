// What exists of a run (or of every run) on both clusters.
import { isSameCluster } from '../cluster/connection.js';
import { findLabelled, type LabelledObjectRef } from '../cluster/delete-labelled.js';
import { ownerSelector, runSelector } from '../manifests/labels.js';
import type { Clusters } from './context.js';

export interface RunStatus {
  runId?: string;
  source: LabelledObjectRef[];
  /** Empty when sameCluster: every object is listed once, under source. */
  destination: LabelledObjectRef[];
  sameCluster: boolean;
}

/** Objects labelled with the run; with no run id, every dvm object. */
export async function runStatus(clusters: Clusters, runId?: string): Promise<RunStatus> {
  const labelSelector = runId ? runSelector(runId) : ownerSelector();
  const sameCluster = isSameCluster(clusters.source, clusters.destination);
  const [source, destination] = await Promise.all([
    findLabelled(clusters.source, labelSelector),
    sameCluster ? [] : findLabelled(clusters.destination, labelSelector),
  ]);
  return { ...(runId ? { runId } : {}), source, destination, sameCluster };
}
