// Addresses of one fake cluster, all on loopback (127.0.0.0/8 routes to lo on Linux, so any of them
// can be bound without set-up): one /24 per cluster, picked at random so parallel test files and
// the two clusters of a test do not collide.
export class LoopbackNetwork {
  readonly base: string;
  private nextService = 1;
  private nextPod = 100;
  private nextLoadBalancer = 200;

  constructor(base?: string) {
    this.base = base ?? `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 254)}`;
  }

  /** The API server itself. */
  get apiIp(): string {
    return `${this.base}.253`;
  }
  /** The one node's InternalIP (NodePorts listen here). */
  get nodeIp(): string {
    return `${this.base}.250`;
  }
  /** The OpenShift router (Routes, port 443). */
  get routerIp(): string {
    return `${this.base}.254`;
  }
  allocateServiceIp(): string {
    if (this.nextService > 99) throw new Error('fake cluster: out of service IPs');
    return `${this.base}.${this.nextService++}`;
  }
  allocatePodIp(): string {
    if (this.nextPod > 199) this.nextPod = 100;
    return `${this.base}.${this.nextPod++}`;
  }
  allocateLoadBalancerIp(): string {
    if (this.nextLoadBalancer > 249) throw new Error('fake cluster: out of load balancer IPs');
    return `${this.base}.${this.nextLoadBalancer++}`;
  }
}
