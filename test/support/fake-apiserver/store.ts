// In-memory object storage with resourceVersions, watch history and a log of every write, so tests
// can count what a client wrote and assert what is left.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ResourceKind } from './kinds.js';

export type KubeObject = Record<string, any>;
export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  type: WatchType;
  kind: ResourceKind;
  object: KubeObject;
  /** The object before a MODIFIED, so a selector watch can turn "left the selector" into DELETED. */
  previous?: KubeObject;
  resourceVersion: number;
}

export interface WriteRecord {
  method: string;
  path: string;
  kind: string;
  namespace?: string;
  name?: string;
  labels: Record<string, string>;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function keyOf(kind: ResourceKind, namespace: string | undefined, name: string): string {
  return `${kind.group}/${kind.plural}/${kind.namespaced ? (namespace ?? '') : ''}/${name}`;
}

export class ObjectStore extends EventEmitter {
  private readonly objects = new Map<string, { kind: ResourceKind; object: KubeObject }>();
  private readonly history: StoredEvent[] = [];
  private version = 1;
  readonly writes: WriteRecord[] = [];
  /** The body of every create request but dry runs, as the client sent it (before admission
   * defaults anything, and whether or not the create succeeded). */
  readonly createRequests: KubeObject[] = [];

  currentVersion(): number {
    return this.version;
  }

  get(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined {
    const entry = this.objects.get(keyOf(kind, namespace, name));
    return entry ? structuredClone(entry.object) : undefined;
  }

  mustGet(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject {
    const object = this.get(kind, namespace, name);
    if (!object) throw new ApiError(404, 'NotFound', `${kind.plural} "${name}" not found`);
    return object;
  }

  list(kind: ResourceKind, namespace?: string): KubeObject[] {
    return [...this.objects.values()]
      .filter((entry) => entry.kind === kind && (namespace === undefined || entry.object.metadata.namespace === namespace))
      .map((entry) => structuredClone(entry.object));
  }

  /** Everything stored, for tests that assert what is left. */
  all(): KubeObject[] {
    return [...this.objects.values()].map((entry) => structuredClone(entry.object));
  }

  create(kind: ResourceKind, object: KubeObject): KubeObject {
    const { name, namespace } = object.metadata;
    const key = keyOf(kind, namespace, name);
    if (this.objects.has(key)) throw new ApiError(409, 'AlreadyExists', `${kind.plural} "${name}" already exists`);
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.commit(kind, key, object, 'ADDED');
  }

  update(kind: ResourceKind, object: KubeObject, expectVersion?: string): KubeObject {
    const { name, namespace } = object.metadata;
    const key = keyOf(kind, namespace, name);
    const existing = this.objects.get(key);
    if (!existing) throw new ApiError(404, 'NotFound', `${kind.plural} "${name}" not found`);
    if (expectVersion && expectVersion !== existing.object.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${kind.plural} "${name}": the object has been modified`);
    }
    object.metadata.uid = existing.object.metadata.uid;
    object.metadata.creationTimestamp = existing.object.metadata.creationTimestamp;
    return this.commit(kind, key, object, 'MODIFIED', existing.object);
  }

  /** Read-modify-write in one step, for in-process actors (kubelet, router, controllers). */
  mutate(kind: ResourceKind, namespace: string | undefined, name: string, change: (object: KubeObject) => void): KubeObject | undefined {
    const current = this.get(kind, namespace, name);
    if (!current) return undefined;
    change(current);
    return this.update(kind, current);
  }

  remove(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject {
    const key = keyOf(kind, namespace, name);
    const existing = this.objects.get(key);
    if (!existing) throw new ApiError(404, 'NotFound', `${kind.plural} "${name}" not found`);
    this.objects.delete(key);
    const object = structuredClone(existing.object);
    object.metadata.resourceVersion = String(++this.version);
    this.record({ type: 'DELETED', kind, object, resourceVersion: this.version });
    return object;
  }

  /** Events after a resourceVersion, for watches that resume. */
  eventsSince(resourceVersion: number): StoredEvent[] {
    return this.history.filter((event) => event.resourceVersion > resourceVersion);
  }

  private commit(kind: ResourceKind, key: string, object: KubeObject, type: WatchType, previous?: KubeObject): KubeObject {
    object.metadata.resourceVersion = String(++this.version);
    this.objects.set(key, { kind, object: structuredClone(object) });
    this.record({ type, kind, object: structuredClone(object), ...(previous ? { previous: structuredClone(previous) } : {}), resourceVersion: this.version });
    return object;
  }

  private record(event: StoredEvent): void {
    this.history.push(event);
    this.emit('event', event);
  }
}
