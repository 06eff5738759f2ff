// What exists of a run (or of every run) on both clusters.
import { findLabelled, type LabelledObjectRef } from '../cluster/delete-labelled.js';
import { ownerLabels, runSelector, selector } from '../manifests/labels.js';
import type { Clusters } from './context.js';

export interface RunStatus {
  runId?: string;
  source: LabelledObjectRef[];
  destination: LabelledObjectRef[];
}

/** Objects labelled with the run; with no run id, every dvm object. */
export async function runStatus(clusters: Clusters, runId?: string): Promise<RunStatus> {
  const labelSelector = runId ? runSelector(runId) : selector(ownerLabels());
  const [source, destination] = await Promise.all([findLabelled(clusters.source, labelSelector), findLabelled(clusters.destination, labelSelector)]);
  return { ...(runId ? { runId } : {}), source, destination };
}
