// The pod runner: makes a fake cluster behave like a real one for dvm. It watches the fake API's
// objects in-process and plays kubelet (pods -> local `node dist/agent/dvm-agent.js` processes),
// kube-proxy / load-balancer controller (Services -> loopback forwarders) and router (Routes).
import { AGENT_MAIN as DEFAULT_AGENT_MAIN } from '../agent-process.js';
import type { FakeCluster } from '../fake-apiserver/index.js';
import type { KubeObject, StoredEvent } from '../fake-apiserver/store.js';
import { FakeDns } from './dns.js';
import { Kubelet } from './kubelet.js';
import { ServiceProxy } from './service-proxy.js';

export { FakeDns } from './dns.js';

export interface PodRunnerOptions {
  dns: FakeDns;
  pvcRoot: string;
  agentMain?: string;
  admitRoutes?: boolean;
  assignLoadBalancers?: boolean;
  configHook?: (pod: KubeObject, config: Record<string, unknown>) => Record<string, unknown>;
  echo?: (pod: string, chunk: Buffer) => void;
}

export interface PodRunner {
  kubelet: Kubelet;
  stop(): Promise<void>;
}

export function startPodRunner(cluster: FakeCluster, options: PodRunnerOptions): PodRunner {
  const kubelet = new Kubelet({
    cluster,
    dns: options.dns,
    agentMain: options.agentMain ?? DEFAULT_AGENT_MAIN,
    pvcRoot: options.pvcRoot,
    ...(options.configHook ? { configHook: options.configHook } : {}),
    ...(options.echo ? { echo: options.echo } : {}),
  });
  const proxy = new ServiceProxy(cluster, options.dns, { admitRoutes: options.admitRoutes ?? true, assignLoadBalancers: options.assignLoadBalancers ?? true });
  cluster.api.kubeletAttached = true;
  const errors: unknown[] = [];
  const onEvent = (event: StoredEvent) => {
    const object = event.type === 'DELETED' ? undefined : event.object;
    const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
    // Status writes of our own arrive here too; the handlers are idempotent.
    setImmediate(() => {
      try {
        switch (event.kind.kind) {
          case 'Pod':
            kubelet.sync(object ? cluster.api.store.get(event.kind, event.object.metadata.namespace, event.object.metadata.name) : undefined, key);
            break;
          case 'Secret':
          case 'ConfigMap':
            if (event.type === 'ADDED') kubelet.retryPending();
            break;
          case 'Service':
            void proxy.syncService(object, key).catch((error) => errors.push(error));
            break;
          case 'Route':
            void proxy.syncRoute(object, key).catch((error) => errors.push(error));
            break;
          default:
            break;
        }
      } catch (error) {
        errors.push(error);
        process.stderr.write(`pod runner (${cluster.name}): ${(error as Error).stack}\n`);
      }
    });
  };
  cluster.api.store.on('event', onEvent);
  return {
    kubelet,
    stop: async () => {
      cluster.api.store.off('event', onEvent);
      await kubelet.shutdown();
      await proxy.shutdown();
    },
  };
}
