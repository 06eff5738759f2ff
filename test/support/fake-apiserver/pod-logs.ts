// Container logs as the kubelet would serve them: the pod runner appends, the API server streams
// (with follow=true until the container ends).
import { EventEmitter } from 'node:events';

interface LogBuffer {
  chunks: Buffer[];
  ended: boolean;
  events: EventEmitter;
}

export class PodLogs {
  private readonly buffers = new Map<string, LogBuffer>();

  private buffer(namespace: string, pod: string, create: boolean): LogBuffer | undefined {
    const key = `${namespace}/${pod}`;
    let buffer = this.buffers.get(key);
    if (!buffer && create) {
      buffer = { chunks: [], ended: false, events: new EventEmitter() };
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  /** A (re)started container: the log starts again, as `kubectl logs` shows only the current one. */
  start(namespace: string, pod: string): void {
    const old = this.buffers.get(`${namespace}/${pod}`);
    old?.events.emit('end');
    this.buffers.delete(`${namespace}/${pod}`);
    this.buffer(namespace, pod, true);
  }

  append(namespace: string, pod: string, chunk: Buffer): void {
    const buffer = this.buffer(namespace, pod, true)!;
    buffer.chunks.push(chunk);
    buffer.events.emit('data', chunk);
  }

  end(namespace: string, pod: string): void {
    const buffer = this.buffer(namespace, pod, false);
    if (!buffer || buffer.ended) return;
    buffer.ended = true;
    buffer.events.emit('end');
  }

  has(namespace: string, pod: string): boolean {
    return this.buffers.has(`${namespace}/${pod}`);
  }

  /** Writes what there is; with follow, keeps writing until the container ends or the reader leaves. */
  stream(namespace: string, pod: string, follow: boolean, write: (chunk: Buffer) => void, done: () => void): () => void {
    const buffer = this.buffer(namespace, pod, true)!;
    for (const chunk of buffer.chunks) write(chunk);
    if (!follow || buffer.ended) {
      done();
      return () => {};
    }
    const onData = (chunk: Buffer) => write(chunk);
    const onEnd = () => {
      detach();
      done();
    };
    const detach = () => {
      buffer.events.off('data', onData);
      buffer.events.off('end', onEnd);
    };
    buffer.events.on('data', onData);
    buffer.events.on('end', onEnd);
    return detach;
  }
}
