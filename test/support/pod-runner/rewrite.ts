// The container sees mount paths, 0.0.0.0 and cluster host names; the local process sees temp
// directories, its pod IP and loopback addresses. The runner rewrites the agent config it hands the
// process accordingly, standing in for the mount namespace, the pod network and DNS.
export interface RewriteContext {
  /** mountPath -> local directory, longest first. */
  mounts: Array<[string, string]>;
  podIp: string;
  terminationMessagePath: string;
  terminationFile: string;
  resolveHost(host: string): string;
}

export function rewritePath(value: string, context: RewriteContext): string {
  if (value === context.terminationMessagePath) return context.terminationFile;
  for (const [mountPath, local] of context.mounts) {
    if (value === mountPath) return local;
    if (value.startsWith(`${mountPath}/`)) return `${local}${value.slice(mountPath.length)}`;
  }
  return value;
}

const LISTEN_KEYS = new Set(['listen', 'healthListen', 'progressListen']);

export function rewriteAgentConfig(config: unknown, context: RewriteContext): unknown {
  const visit = (value: unknown, key?: string): unknown => {
    if (typeof value === 'string') {
      if (key && LISTEN_KEYS.has(key)) return value.replace(/^(0\.0\.0\.0|\[::\]|::)(?=:\d+$)/, context.podIp);
      if (key === 'host') return context.resolveHost(value);
      return value.startsWith('/') ? rewritePath(value, context) : value;
    }
    if (Array.isArray(value)) return value.map((item) => visit(item));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([entryKey, entry]) => [entryKey, visit(entry, entryKey)]));
    }
    return value;
  };
  return visit(config);
}
