// Leader election with a coordination.k8s.io Lease, as client-go's leaderelection does it: the
// leader renews the Lease every retry period; a candidate takes it over when the record (holder and
// renew time) has not changed for a whole lease duration *as this process observed it*, so clocks of
// different machines never need to agree. Every write carries the resourceVersion it read: of two
// candidates racing for an expired Lease exactly one wins (the other gets 409).
//
// Losing the Lease (no successful renewal within the renew deadline) calls onStoppedLeading, which
// the controller answers by exiting: the next leader starts from what the cluster says, and nothing
// of ours keeps writing next to it.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError, isAlreadyExists, isNotFound } from '../cluster/api-error.js';

export interface LeaderElectionOptions {
  coordination: k8s.CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export interface LeaderElection {
  isLeader(): boolean;
  /** Stops campaigning; a leader gives the Lease up (holder cleared) so a successor need not wait. */
  stop(): Promise<void>;
}

interface Observed {
  holder: string;
  renewTime: string;
  at: number;
}

export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const { coordination, namespace, name, identity, log } = options;
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  let observed: Observed | undefined;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const spec = (previous: k8s.V1LeaseSpec | undefined, takeover: boolean): k8s.V1LeaseSpec => {
    const now = new k8s.V1MicroTime();
    return {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(options.leaseDurationMs / 1000),
      acquireTime: takeover || !previous?.acquireTime ? now : previous.acquireTime,
      renewTime: now,
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (takeover && previous ? 1 : 0),
    };
  };

  /** True when we hold the Lease after this attempt. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    let lease: k8s.V1Lease;
    try {
      lease = await coordination.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await coordination.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(undefined, true) } });
        return true;
      } catch (createError) {
        if (isAlreadyExists(createError)) return false;
        throw createError;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const renewTime = lease.spec?.renewTime ? new Date(lease.spec.renewTime).toISOString() : '';
    const now = Date.now();
    if (!observed || observed.holder !== holder || observed.renewTime !== renewTime) observed = { holder, renewTime, at: now };
    const ours = holder === identity;
    const expired = holder === '' || now - observed.at >= options.leaseDurationMs;
    if (!ours && !expired) return false;
    try {
      await coordination.replaceNamespacedLease({ name, namespace, body: { metadata: { ...lease.metadata, name, namespace }, spec: spec(lease.spec, !ours) } });
      return true;
    } catch (error) {
      if (isAlreadyExists(error)) return false;
      throw error;
    }
  };

  const tick = async (): Promise<void> => {
    let holding = false;
    try {
      holding = await tryAcquireOrRenew();
    } catch (error) {
      log.warn({ lease: `${namespace}/${name}`, err: describeApiError(error) }, 'lease request failed');
    }
    if (stopped) return;
    const now = Date.now();
    if (holding) {
      lastRenew = now;
      if (!leader) {
        leader = true;
        log.info({ lease: `${namespace}/${name}`, identity }, 'became the leader');
        options.onStartedLeading();
      }
    } else if (leader && now - lastRenew >= options.renewDeadlineMs) {
      leader = false;
      log.error({ lease: `${namespace}/${name}`, identity }, 'lost the lease');
      options.onStoppedLeading();
    }
  };

  const loop = () => {
    if (stopped) return;
    current = tick().finally(() => {
      if (!stopped) timer = setTimeout(loop, options.retryPeriodMs);
    });
  };
  loop();

  return {
    isLeader: () => leader,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
      if (!leader) return;
      leader = false;
      try {
        const lease = await coordination.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity !== identity) return;
        await coordination.replaceNamespacedLease({
          name,
          namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
        });
        log.info({ lease: `${namespace}/${name}` }, 'gave the lease up');
      } catch (error) {
        log.warn({ err: describeApiError(error) }, 'could not give the lease up (the next leader waits for it to expire)');
      }
    },
  };
}
