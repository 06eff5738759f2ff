// Following a container's log as lines (the fallback progress source).
import { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import type { Cluster } from './connection.js';

export interface LogFollower {
  /** Resolves when the log stream ends (the container stopped, or stop() was called). */
  ended: Promise<void>;
  stop(): void;
}

export async function followPodLog(cluster: Cluster, namespace: string, pod: string, container: string, onLine: (line: string) => void): Promise<LogFollower> {
  let pending = '';
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => {
    resolveEnded = resolve;
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
      callback();
    },
    final(callback) {
      if (pending) onLine(pending);
      pending = '';
      callback();
    },
  });
  sink.on('finish', () => resolveEnded());
  sink.on('close', () => resolveEnded());
  const controller = await new k8s.Log(cluster.kc).log(namespace, pod, container, sink, { follow: true, pretty: false, timestamps: false });
  return {
    ended,
    stop: () => {
      controller.abort();
      resolveEnded();
    },
  };
}
