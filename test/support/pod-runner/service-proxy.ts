// kube-proxy, the cloud load-balancer controller and the OpenShift router of a fake cluster:
// Services get listeners on their cluster IP (and node port, and a load-balancer IP published in
// their status); Routes are admitted and served by an SNI-dispatching listener on the router IP.
import type { FakeCluster } from '../fake-apiserver/index.js';
import { kindByName } from '../fake-apiserver/kinds.js';
import { parseLabelSelector } from '../fake-apiserver/selectors.js';
import type { KubeObject } from '../fake-apiserver/store.js';
import type { FakeDns } from './dns.js';
import { startForwarder, type Forwarder } from './forward.js';
import { probePort } from './probe.js';
import { readSni } from './sni.js';

const POD = kindByName('Pod');
const SERVICE = kindByName('Service');
const ROUTE = kindByName('Route');

export class ServiceProxy {
  private readonly listeners = new Map<string, Forwarder[]>();
  private router: Promise<Forwarder> | undefined;

  constructor(
    private readonly cluster: FakeCluster,
    private readonly dns: FakeDns,
    private readonly options: { admitRoutes: boolean; assignLoadBalancers: boolean },
  ) {}

  private get store() {
    return this.cluster.api.store;
  }

  /** A ready pod behind the service, and the port the service port maps to. */
  endpoint(service: KubeObject, servicePort: KubeObject): { host: string; port: number } | undefined {
    const selector = service.spec.selector ?? {};
    const matches = parseLabelSelector(
      Object.entries(selector)
        .map(([key, value]) => `${key}=${value}`)
        .join(','),
    );
    const pod = this.store
      .list(POD, service.metadata.namespace)
      .find(
        (candidate) =>
          matches(candidate.metadata.labels ?? {}) &&
          !candidate.metadata.deletionTimestamp &&
          (candidate.status?.conditions ?? []).some((condition: KubeObject) => condition.type === 'Ready' && condition.status === 'True'),
      );
    if (!pod?.status?.podIP) return undefined;
    const port = probePort(pod.spec.containers[0], servicePort.targetPort ?? servicePort.port);
    return port === undefined ? undefined : { host: pod.status.podIP, port };
  }

  async syncService(service: KubeObject | undefined, key: string): Promise<void> {
    if (!service) {
      await this.closeListeners(key);
      return;
    }
    if (this.listeners.has(key)) return;
    this.listeners.set(key, []);
    const forwarders: Forwarder[] = [];
    const [namespace, name] = key.split('/') as [string, string];
    const current = () => this.store.get(SERVICE, namespace, name);
    let loadBalancerIp: string | undefined;
    if (service.spec.type === 'LoadBalancer' && this.options.assignLoadBalancers) loadBalancerIp = this.cluster.network.allocateLoadBalancerIp();
    for (const servicePort of service.spec.ports ?? []) {
      const pick = () => {
        const live = current();
        return live ? this.endpoint(live, servicePort) : undefined;
      };
      forwarders.push(await startForwarder(service.spec.clusterIP, servicePort.port, pick));
      if (servicePort.nodePort) forwarders.push(await startForwarder(this.cluster.network.nodeIp, servicePort.nodePort, pick));
      if (loadBalancerIp) forwarders.push(await startForwarder(loadBalancerIp, servicePort.port, pick));
    }
    if (!current()) {
      // Deleted while the listeners were starting.
      await Promise.all(forwarders.map((forwarder) => forwarder.close()));
      this.listeners.delete(key);
      return;
    }
    this.listeners.set(key, forwarders);
    for (const suffix of ['svc', 'svc.cluster.local']) this.dns.register(`${name}.${namespace}.${suffix}`, service.spec.clusterIP);
    if (loadBalancerIp) {
      this.store.mutate(SERVICE, namespace, name, (live) => {
        live.status = { loadBalancer: { ingress: [{ ip: loadBalancerIp }] } };
      });
    }
  }

  async syncRoute(route: KubeObject | undefined, key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    if (!route) return;
    this.dns.register(route.spec.host, this.cluster.network.routerIp);
    this.router ??= startForwarder(this.cluster.network.routerIp, 443, (bytes) => this.routeTarget(bytes));
    await this.router;
    const admitted = (route.status?.ingress ?? []).length > 0;
    if (!admitted && this.options.admitRoutes) {
      this.store.mutate(ROUTE, namespace, name, (live) => {
        live.status = {
          ingress: [
            {
              host: live.spec.host,
              routerName: 'default',
              wildcardPolicy: 'None',
              conditions: [{ type: 'Admitted', status: 'True', lastTransitionTime: new Date().toISOString() }],
            },
          ],
        };
      });
    }
  }

  /** Passthrough: the SNI picks the Route, the Route picks the Service, the Service a pod. */
  private routeTarget(bytes: Buffer): { host: string; port: number } | undefined | 'more' {
    const sni = readSni(bytes);
    if (sni === undefined) return 'more';
    if (sni === null) return undefined;
    const route = this.store
      .list(ROUTE)
      .find(
        (candidate) =>
          candidate.spec.host === sni &&
          (candidate.status?.ingress ?? []).some((ingress: KubeObject) =>
            ingress.conditions?.some((condition: KubeObject) => condition.type === 'Admitted' && condition.status === 'True'),
          ),
      );
    if (!route || route.spec.tls?.termination !== 'passthrough') return undefined;
    const service = this.store.get(SERVICE, route.metadata.namespace, route.spec.to.name);
    if (!service) return undefined;
    const wanted = route.spec.port?.targetPort;
    const servicePort = (service.spec.ports ?? []).find(
      (port: KubeObject) => wanted === undefined || port.name === wanted || port.targetPort === wanted || port.port === wanted,
    );
    return servicePort ? this.endpoint(service, servicePort) : undefined;
  }

  private async closeListeners(key: string): Promise<void> {
    const forwarders = this.listeners.get(key) ?? [];
    this.listeners.delete(key);
    await Promise.all(forwarders.map((forwarder) => forwarder.close()));
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((key) => this.closeListeners(key)));
    if (this.router) await (await this.router).close();
  }
}
