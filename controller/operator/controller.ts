// `dvm controller`, assembled: connect to the cluster (a kubeconfig, or in-cluster), serve progress
// (page, websocket, /metrics over every run), campaign for the Lease, and while leading watch
// DirectVolumeMigrations and reconcile them. stop() leaves the runs' pods where they are and gives
// the Lease up: the next leader removes them and copies what was not finished (reconcile.ts).
import { CoordinationV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { checkReachable, connectCluster, type ClusterRef } from '../cluster/connection.js';
import type { ControllerSettings } from '../config/settings.js';
import { ProgressAggregate } from '../progress/aggregate.js';
import { startProgressServer, type ProgressServer } from '../progress/server.js';
import { ActiveRuns } from './active-runs.js';
import type { OperatorContext } from './context.js';
import { EventRecorder } from './event-recorder.js';
import { startLeaderElection, type LeaderElection } from './lease.js';
import { reconcile } from './reconcile.js';
import { watchDirectVolumeMigrations } from './watch.js';
import { WorkQueue } from './work-queue.js';

export interface ControllerOptions {
  cluster: ClusterRef;
  settings: ControllerSettings;
  /** Only DirectVolumeMigrations in this namespace (default: all). */
  watchNamespace?: string;
  /** namespace: default the kubeconfig context's namespace, else "default". */
  lease: { namespace?: string | undefined; name: string; identity: string; durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** host:port of the progress page, websocket API and /metrics; token required off loopback. */
  listen?: string;
  token?: string;
  progressIntervalMs: number;
  statusIntervalMs: number;
  log: Logger;
  /** What to do when the Lease is lost (the CLI exits: nothing of ours may keep running). */
  onLostLeadership: () => void;
}

export interface RunningController {
  progressUrl?: string;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { log } = options;
  const local = connectCluster(options.cluster, 'source');
  await checkReachable(local);
  const hub = new ProgressAggregate([]);
  let server: ProgressServer | undefined;
  if (options.listen) {
    server = await startProgressServer({ listen: options.listen, aggregate: hub, logger: log, ...(options.token ? { token: options.token } : {}) });
  }
  const runs = new ActiveRuns();
  let queue: WorkQueue | undefined;
  let stopWatch: (() => void) | undefined;
  const ctx: OperatorContext = {
    local,
    settings: options.settings,
    log,
    recorder: new EventRecorder(local, options.lease.identity, log),
    runs,
    hub,
    progressIntervalMs: options.progressIntervalMs,
    statusIntervalMs: options.statusIntervalMs,
    requeue: (key) => queue?.add(key),
  };

  const startLeading = () => {
    queue = new WorkQueue((key) => reconcile(ctx, key), { log });
    stopWatch = watchDirectVolumeMigrations(local, options.watchNamespace, (key) => queue?.add(key), log);
  };
  const leaseNamespace = options.lease.namespace ?? local.kc.getContextObject(local.kc.getCurrentContext())?.namespace ?? 'default';
  const election: LeaderElection = startLeaderElection({
    coordination: local.kc.makeApiClient(CoordinationV1Api),
    namespace: leaseNamespace,
    name: options.lease.name,
    identity: options.lease.identity,
    leaseDurationMs: options.lease.durationMs,
    renewDeadlineMs: options.lease.renewDeadlineMs,
    retryPeriodMs: options.lease.retryPeriodMs,
    log,
    onStartedLeading: startLeading,
    onStoppedLeading: () => {
      stopWatch?.();
      void queue?.stop();
      options.onLostLeadership();
    },
  });

  return {
    ...(server ? { progressUrl: server.url } : {}),
    isLeader: () => election.isLeader(),
    stop: async () => {
      stopWatch?.();
      await queue?.stop();
      await election.stop();
      await server?.close();
      if (runs.all().length > 0) log.info({ runs: runs.all().map((run) => run.key) }, 'leaving runs to the next leader');
    },
  };
}
