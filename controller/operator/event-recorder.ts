// Kubernetes Events about a DirectVolumeMigration (kubectl describe shows them): what started,
// resumed, finished, and every problem. Fire and forget: an Event that cannot be written is logged,
// never a reason to stop a migration. Messages are ours (no kubeconfig, token or proxy URL is ever
// put in one); they are cut to the API's 1 KiB.
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError } from '../cluster/api-error.js';
import type { Cluster } from '../cluster/connection.js';
import type { DirectVolumeMigration } from './resources.js';

export const EVENT_COMPONENT = 'dvm-controller';
const MAX_MESSAGE = 1024;

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  constructor(
    private readonly cluster: Cluster,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  record(dvm: DirectVolumeMigration, type: EventType, reason: string, message: string): void {
    const now = new Date();
    const event: CoreV1Event = {
      metadata: { generateName: `${dvm.metadata.name}.`, namespace: dvm.metadata.namespace },
      involvedObject: {
        apiVersion: dvm.apiVersion,
        kind: dvm.kind,
        name: dvm.metadata.name,
        namespace: dvm.metadata.namespace,
        uid: dvm.metadata.uid,
      },
      type,
      reason,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
      source: { component: EVENT_COMPONENT },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    this.log[type === 'Warning' ? 'warn' : 'info']({ dvm: `${dvm.metadata.namespace}/${dvm.metadata.name}`, reason }, message);
    this.cluster.core
      .createNamespacedEvent({ namespace: dvm.metadata.namespace, body: event })
      .catch((error: unknown) => this.log.warn({ reason, err: describeApiError(error) }, 'cannot record a Kubernetes Event'));
  }
}
