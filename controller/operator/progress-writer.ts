// One DirectVolumeMigrationProgress per PVC of a run, kept current from the run's own progress
// aggregate and pod events, at most one status write per PVC per interval (throttle.ts): a 100 MB/s
// copy emits several events a second, the API server gets one write every 2 s per PVC.
// Each DVMP is owned by its DirectVolumeMigration (garbage-collected with it). What a DVMP already
// says (an earlier process's run of the same PVC) is the floor its percent and bytes never go below.
import type { Logger } from 'pino';
import { describeApiError, isAlreadyExists } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import { pvcKey, type PvcPair } from '../config/spec.js';
import { clientPodSelectorLabels, progressLabels } from '../manifests/labels.js';
import { progressName } from '../manifests/names.js';
import type { MigrationHandle } from '../migration/handle.js';
import type { PvcState } from '../progress/pvc-state.js';
import { createCustom, patchStatus, readCustom } from './custom-objects.js';
import { DVMP_RESOURCE, type DirectVolumeMigration, type DvmpStatus } from './resources.js';
import { progressStatus, type PodSeen } from './status-model.js';
import { ThrottledWriter } from './throttle.js';

export interface ProgressWriterOptions {
  cluster: Cluster;
  log: Logger;
  intervalMs: number;
  maxAttempts: number;
  /** spec.srcMigClusterRef as written, for the DVMP's clusterRef. */
  clusterRef?: unknown;
}

interface PvcWriter {
  name: string;
  floor: Partial<DvmpStatus> | undefined;
  pod: PodSeen | undefined;
  state: PvcState | undefined;
  writer: ThrottledWriter<DvmpStatus>;
}

export class ProgressWriters {
  private readonly writers = new Map<string, PvcWriter>();
  private unsubscribe: Array<() => void> = [];

  private constructor(private readonly options: ProgressWriterOptions) {}

  /** Creates the missing DVMPs (and reads the existing ones' status) before the run starts writing. */
  static async ensure(dvm: DirectVolumeMigration, pairs: readonly PvcPair[], options: ProgressWriterOptions): Promise<ProgressWriters> {
    const writers = new ProgressWriters(options);
    for (const pair of pairs) {
      const name = progressName(dvm.metadata.name, pair.source);
      const existing = await ensureProgressResource(options.cluster, dvm, pair, name, options.clusterRef);
      writers.writers.set(pvcKey(pair.source), {
        name,
        floor: existing?.status,
        pod: undefined,
        state: undefined,
        // lastUpdateTime says when the write went out, not when the state it carries was built.
        writer: new ThrottledWriter(
          (status) => patchStatus(options.cluster, DVMP_RESOURCE, dvm.metadata.namespace, name, { ...status, lastUpdateTime: new Date().toISOString() }),
          {
            intervalMs: options.intervalMs,
            onError: (error) => options.log.warn({ dvmp: name, err: describeApiError(error) }, 'cannot write a DirectVolumeMigrationProgress status'),
          },
        ),
      });
    }
    return writers;
  }

  /** Follows the run until close(). */
  follow(handle: MigrationHandle): void {
    const onChange = ({ pvc }: { pvc: PvcState }) =>
      this.update(pvc.pvc, (entry) => {
        entry.state = pvc;
      });
    handle.progress.on('change', onChange);
    this.unsubscribe.push(() => handle.progress.off('change', onChange));
    this.unsubscribe.push(
      handle.onEvent((event) => {
        if (event.type !== 'pod') return;
        const namespace = event.pvc.slice(0, event.pvc.indexOf('/'));
        this.update(event.pvc, (entry) => {
          entry.pod = { name: event.pod, namespace, state: event.state };
        });
      }),
    );
    // A PVC's state before its first event (Pending), so each DVMP says something from the start.
    for (const state of handle.progress.snapshot().pvcs)
      this.update(state.pvc, (entry) => {
        entry.state ??= state;
      });
  }

  /** Status writes started so far, per PVC key. */
  writeCounts(): Record<string, number> {
    return Object.fromEntries([...this.writers].map(([key, entry]) => [key, entry.writer.writes]));
  }

  /** Waits until every DVMP shows the newest state (still at the bounded rate). */
  async flush(): Promise<void> {
    await Promise.all([...this.writers.values()].map((entry) => entry.writer.flush()));
  }

  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const entry of this.writers.values()) entry.writer.close();
  }

  private update(key: string, change: (entry: PvcWriter) => void): void {
    const entry = this.writers.get(key);
    if (!entry) return;
    change(entry);
    if (!entry.state) return;
    entry.writer.set(progressStatus(entry.state, entry.pod, entry.floor, this.options.maxAttempts, new Date()));
  }
}

async function ensureProgressResource(
  cluster: Cluster,
  dvm: DirectVolumeMigration,
  pair: PvcPair,
  name: string,
  clusterRef: unknown,
): Promise<{ status?: DvmpStatus } | undefined> {
  const { namespace } = dvm.metadata;
  const existing = await readCustom<{ status?: DvmpStatus }>(cluster, DVMP_RESOURCE, namespace, name);
  if (existing) return existing;
  // The client pods of every attempt and either kind.
  const podSelector = clientPodSelectorLabels(dvm.metadata.uid, pair.source.name);
  const body = {
    apiVersion: DVMP_RESOURCE.apiVersion,
    kind: DVMP_RESOURCE.kind,
    metadata: {
      name,
      namespace,
      labels: progressLabels(dvm.metadata.uid, dvm.metadata.name, pair.source.name),
      ownerReferences: [
        { apiVersion: dvm.apiVersion, kind: dvm.kind, name: dvm.metadata.name, uid: dvm.metadata.uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      ...(clusterRef ? { clusterRef } : {}),
      pvcRef: pair.source,
      targetRef: pair.target,
      podNamespace: pair.source.namespace,
      podSelector,
    },
  };
  try {
    await createCustom(cluster, DVMP_RESOURCE, namespace, body);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    return readCustom<{ status?: DvmpStatus }>(cluster, DVMP_RESOURCE, namespace, name);
  }
  return undefined;
}
