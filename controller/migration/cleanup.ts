// Removing a run's objects from both clusters (on success, failure and interrupt), and removing the
// leftovers of earlier runs before a new one starts.
import { isSameCluster } from '../cluster/connection.js';
import { deleteLabelled } from '../cluster/delete-labelled.js';
import { SHARED, WriteCounter } from '../cluster/write-counter.js';
import { runSelector, staleSelector } from '../manifests/labels.js';
import type { Clusters } from './context.js';

export interface CleanupOptions {
  writes?: WriteCounter;
  timeoutMs?: number;
  /** The run's namespaces per side; every namespace when absent (dvm cleanup --run). */
  namespaces?: { source: string[]; destination: string[] };
}

export interface CleanupCounts {
  source: number;
  destination: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;

export async function cleanupRun(clusters: Clusters, runId: string, options: CleanupOptions = {}): Promise<CleanupCounts> {
  return deleteOnBoth(clusters, runSelector(runId), options);
}

export async function cleanupStaleRuns(clusters: Clusters, runId: string, options: CleanupOptions = {}): Promise<CleanupCounts> {
  return deleteOnBoth(clusters, staleSelector(runId), options);
}

async function deleteOnBoth(clusters: Clusters, selector: string, options: CleanupOptions): Promise<CleanupCounts> {
  const writes = options.writes ?? new WriteCounter();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (isSameCluster(clusters.source, clusters.destination)) {
    // One cluster seen from both sides: delete once, in the namespaces of both sides.
    const namespaces = options.namespaces ? [...new Set([...options.namespaces.source, ...options.namespaces.destination])] : undefined;
    const deleted = await deleteLabelled(clusters.source, selector, { writes, scope: SHARED, timeoutMs, ...(namespaces ? { namespaces } : {}) });
    return { source: deleted, destination: 0 };
  }
  const [source, destination] = await Promise.all([
    deleteLabelled(clusters.source, selector, { writes, scope: SHARED, timeoutMs, ...(options.namespaces ? { namespaces: options.namespaces.source } : {}) }),
    deleteLabelled(clusters.destination, selector, {
      writes,
      scope: SHARED,
      timeoutMs,
      ...(options.namespaces ? { namespaces: options.namespaces.destination } : {}),
    }),
  ]);
  return { source, destination };
}
