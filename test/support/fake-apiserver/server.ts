// A fake Kubernetes API server over HTTPS with bearer-token auth, speaking the REST paths
// @kubernetes/client-node uses: CRUD, list/watch with label and field selectors, deletecollection,
// status subresources, pod logs (follow), the pod proxy (HTTP and websocket) and discovery.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { admitCreate, type AdmissionContext } from './admission.js';
import { discoveryDocument } from './discovery.js';
import { apiVersionOf, type ResourceKind } from './kinds.js';
import { applyPatch } from './patch.js';
import { parsePath, type ResourcePath } from './paths.js';
import { PodLogs } from './pod-logs.js';
import { proxyHttp, proxyTarget, proxyUpgrade } from './pod-proxy.js';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';
import { ApiError, ObjectStore, type KubeObject, type StoredEvent } from './store.js';

export interface FakeApiOptions {
  token: string;
  tls: { certPem: string; keyPem: string };
  openshift: boolean;
  admission: AdmissionContext;
  /** Answer pod proxy requests with 403, as a cluster whose RBAC denies pods/proxy would, or with
   * 503 ('unreachable'), as when the API server cannot reach the pod. */
  refusePodProxy?: () => PodProxyRefusal;
}

export type PodProxyRefusal = boolean | 'unreachable';

export class FakeApiHttp {
  readonly store = new ObjectStore();
  readonly logs = new PodLogs();
  /** Set by a pod runner: pods on a node are then deleted gracefully (the kubelet confirms). */
  kubeletAttached = false;
  private readonly server: Server;

  constructor(private readonly options: FakeApiOptions) {
    this.server = createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, (request, response) => {
      this.handle(request, response).catch((error) => this.fail(response, error));
    });
    this.server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(request, socket, head));
    this.server.keepAliveTimeout = 1000;
  }

  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => resolve((this.server.address() as { port: number }).port));
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private authorized(request: IncomingMessage): boolean {
    return request.headers.authorization === `Bearer ${this.options.token}`;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!this.authorized(request)) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    const url = new URL(request.url ?? '/', 'https://fake');
    const parsed = parsePath(url.pathname, this.options.openshift);
    if (parsed.type === 'version') return this.json(response, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake' });
    if (parsed.type === 'discovery') {
      const document = discoveryDocument(parsed.root, this.options.openshift, parsed.group, parsed.version);
      if (!document) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return this.json(response, 200, document);
    }
    if (parsed.type !== 'resource') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const path = parsed.path;
    const method = request.method ?? 'GET';
    if (method !== 'GET') this.recordWrite(method, url.pathname, path, undefined);
    if (path.subresource === 'proxy') return this.proxy(request, response, path, url);
    if (path.subresource === 'log') return this.log(response, path, url);
    if (path.name === undefined) {
      if (method === 'GET') return url.searchParams.get('watch') === 'true' ? this.watch(request, response, path, url) : this.list(response, path, url);
      if (method === 'POST') return this.create(request, response, path, url);
      if (method === 'DELETE') return this.deleteCollection(response, path, url);
    } else {
      if (method === 'GET') return this.json(response, 200, this.withType(path.kind, this.store.mustGet(path.kind, path.namespace, path.name)));
      if (method === 'PUT') return this.replace(request, response, path);
      if (method === 'PATCH') return this.patch(request, response, path);
      if (method === 'DELETE') return this.delete(response, path, url);
    }
    throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  private recordWrite(method: string, pathname: string, path: ResourcePath, labels: Record<string, string> | undefined): void {
    this.store.writes.push({
      method,
      path: pathname,
      kind: path.kind.kind,
      ...(path.namespace !== undefined ? { namespace: path.namespace } : {}),
      ...(path.name !== undefined ? { name: path.name } : {}),
      labels: labels ?? (path.name !== undefined ? (this.store.get(path.kind, path.namespace, path.name)?.metadata?.labels ?? {}) : {}),
    });
  }

  private matches(url: URL): (object: KubeObject) => boolean {
    try {
      const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
      const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
      return (object) => labels(object.metadata?.labels ?? {}) && fields(object);
    } catch (error) {
      if (error instanceof SelectorError) throw new ApiError(400, 'BadRequest', error.message);
      throw error;
    }
  }

  private list(response: ServerResponse, path: ResourcePath, url: URL): void {
    const matches = this.matches(url);
    const items = this.store
      .list(path.kind, path.namespace)
      .filter(matches)
      .map((object) => this.withType(path.kind, object));
    this.json(response, 200, {
      apiVersion: apiVersionOf(path.kind),
      kind: `${path.kind.kind}List`,
      metadata: { resourceVersion: String(this.store.currentVersion()) },
      items,
    });
  }

  private watch(request: IncomingMessage, response: ServerResponse, path: ResourcePath, url: URL): void {
    const matches = this.matches(url);
    const inScope = (event: StoredEvent) => event.kind === path.kind && (path.namespace === undefined || event.object.metadata.namespace === path.namespace);
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    response.flushHeaders();
    const send = (type: string, object: KubeObject) => response.write(`${JSON.stringify({ type, object: this.withType(path.kind, object) })}\n`);
    const deliver = (event: StoredEvent) => {
      if (!inScope(event)) return;
      const now = matches(event.object);
      const before = event.previous ? matches(event.previous) : false;
      if (event.type === 'MODIFIED' && !now && before) send('DELETED', event.object);
      else if (event.type === 'MODIFIED' && now && !before) send('ADDED', event.object);
      else if (now) send(event.type, event.object);
    };
    const since = url.searchParams.get('resourceVersion');
    if (since && since !== '0') {
      for (const event of this.store.eventsSince(Number(since))) deliver(event);
    } else {
      for (const object of this.store.list(path.kind, path.namespace).filter(matches)) send('ADDED', object);
    }
    this.store.on('event', deliver);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => response.end(), timeout * 1000) : undefined;
    const stop = () => {
      this.store.off('event', deliver);
      if (timer) clearTimeout(timer);
    };
    request.on('close', stop);
    response.on('close', stop);
  }

  private async create(request: IncomingMessage, response: ServerResponse, path: ResourcePath, url: URL): Promise<void> {
    const object = (await readJson(request)) as KubeObject;
    object.metadata ??= {};
    if (path.kind.namespaced) {
      if (object.metadata.namespace && object.metadata.namespace !== path.namespace) {
        throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      object.metadata.namespace = path.namespace;
    }
    this.lastWrite().labels = object.metadata.labels ?? {};
    if (object.kind !== undefined && object.kind !== path.kind.kind)
      throw new ApiError(400, 'BadRequest', `kind ${object.kind} does not match ${path.kind.plural}`);
    object.apiVersion = apiVersionOf(path.kind);
    object.kind = path.kind.kind;
    if (url.searchParams.get('dryRun') !== 'All') this.store.createRequests.push(structuredClone(object));
    admitCreate(path.kind, object, this.options.admission);
    if (url.searchParams.get('dryRun') === 'All') return this.json(response, 201, object);
    this.json(response, 201, this.store.create(path.kind, object));
  }

  private async replace(request: IncomingMessage, response: ServerResponse, path: ResourcePath): Promise<void> {
    const body = (await readJson(request)) as KubeObject;
    const current = this.store.mustGet(path.kind, path.namespace, path.name!);
    // The main resource ignores status; the status subresource changes only status.
    const next: KubeObject = path.subresource === 'status' ? { ...current, status: body.status } : { ...body, status: current.status };
    next.metadata = { ...body.metadata, namespace: path.namespace, name: path.name };
    this.json(response, 200, this.store.update(path.kind, next, body.metadata?.resourceVersion));
  }

  private async patch(request: IncomingMessage, response: ServerResponse, path: ResourcePath): Promise<void> {
    const body = await readJson(request);
    const current = this.store.mustGet(path.kind, path.namespace, path.name!);
    const patched = applyPatch(current, request.headers['content-type'] ?? '', body);
    const next: KubeObject = path.subresource === 'status' ? { ...current, status: patched.status } : { ...patched, status: current.status };
    next.metadata = { ...patched.metadata, namespace: current.metadata.namespace, name: current.metadata.name };
    this.json(response, 200, this.store.update(path.kind, next));
  }

  private delete(response: ServerResponse, path: ResourcePath, url: URL): void {
    const object = this.store.mustGet(path.kind, path.namespace, path.name!);
    this.json(response, 200, this.deleteObject(path.kind, object, url));
  }

  private deleteCollection(response: ServerResponse, path: ResourcePath, url: URL): void {
    const matches = this.matches(url);
    const items = this.store
      .list(path.kind, path.namespace)
      .filter(matches)
      .map((object) => this.deleteObject(path.kind, object, url));
    this.json(response, 200, { apiVersion: apiVersionOf(path.kind), kind: `${path.kind.kind}List`, metadata: {}, items });
  }

  /** Pods on a node are marked and left to the kubelet (the pod runner) to stop and remove. */
  private deleteObject(kind: ResourceKind, object: KubeObject, url: URL): KubeObject {
    const grace = url.searchParams.get('gracePeriodSeconds');
    if (kind.kind === 'Pod' && this.kubeletAttached && object.spec?.nodeName && grace !== '0') {
      if (object.metadata.deletionTimestamp) return object;
      return this.store.mutate(kind, object.metadata.namespace, object.metadata.name, (pod) => {
        pod.metadata.deletionTimestamp = new Date().toISOString();
        pod.metadata.deletionGracePeriodSeconds = Number(grace ?? pod.spec.terminationGracePeriodSeconds ?? 30);
      })!;
    }
    return this.store.remove(kind, object.metadata.namespace, object.metadata.name);
  }

  private log(response: ServerResponse, path: ResourcePath, url: URL): void {
    const pod = this.store.mustGet(path.kind, path.namespace, path.name!);
    const container = url.searchParams.get('container') ?? pod.spec.containers[0].name;
    if (!this.logs.has(path.namespace!, path.name!)) {
      throw new ApiError(400, 'BadRequest', `container "${container}" in pod "${path.name}" is waiting to start: ContainerCreating`);
    }
    response.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    response.flushHeaders();
    const detach = this.logs.stream(
      path.namespace!,
      path.name!,
      url.searchParams.get('follow') === 'true',
      (chunk) => response.write(chunk),
      () => response.end(),
    );
    response.on('close', detach);
  }

  private proxy(request: IncomingMessage, response: ServerResponse, path: ResourcePath, url: URL): void {
    if (path.kind.kind !== 'Pod') throw new ApiError(404, 'NotFound', 'proxy is served for pods only here');
    const refusal = this.options.refusePodProxy?.();
    if (refusal === 'unreachable') throw new ApiError(503, 'ServiceUnavailable', `error trying to reach service: dial tcp: connect: connection refused`);
    if (refusal) throw new ApiError(403, 'Forbidden', `pods "${path.name}" is forbidden: cannot get resource "pods/proxy"`);
    const pod = this.store.mustGet(path.kind, path.namespace, path.name!);
    proxyHttp(request, response, proxyTarget(pod, path.proxyPort, path.proxyRest ?? '/', url.search));
  }

  private upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const refuse = (code: number, message: string) => {
      socket.end(
        `HTTP/1.1 ${code} ${message}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify(status(code, 'Failure', message))}`,
      );
    };
    try {
      if (!this.authorized(request)) return refuse(401, 'Unauthorized');
      const url = new URL(request.url ?? '/', 'https://fake');
      const parsed = parsePath(url.pathname, this.options.openshift);
      if (parsed.type !== 'resource' || parsed.path.subresource !== 'proxy' || parsed.path.kind.kind !== 'Pod') return refuse(400, 'Bad Request');
      const refusal = this.options.refusePodProxy?.();
      if (refusal === 'unreachable') return refuse(503, 'Service Unavailable');
      if (refusal) return refuse(403, 'Forbidden');
      const pod = this.store.get(parsed.path.kind, parsed.path.namespace, parsed.path.name!);
      if (!pod) return refuse(404, 'Not Found');
      proxyUpgrade(request, socket, head, proxyTarget(pod, parsed.path.proxyPort, parsed.path.proxyRest ?? '/', url.search));
    } catch (error) {
      refuse(error instanceof ApiError ? error.code : 500, (error as Error).message);
    }
  }

  private lastWrite() {
    return this.store.writes[this.store.writes.length - 1]!;
  }

  private withType(kind: ResourceKind, object: KubeObject): KubeObject {
    return { apiVersion: apiVersionOf(kind), kind: kind.kind, ...object };
  }

  private json(response: ServerResponse, code: number, body: unknown): void {
    response.writeHead(code, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }

  private fail(response: ServerResponse, error: unknown): void {
    const code = error instanceof ApiError ? error.code : 500;
    const reason = error instanceof ApiError ? error.reason : 'InternalError';
    if (response.headersSent) {
      response.destroy();
      return;
    }
    this.json(response, code, { ...status(code, 'Failure', (error as Error).message), reason });
  }
}

function status(code: number, result: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: result, message, code };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(400, 'BadRequest', 'request body is not valid JSON');
  }
}
