// Parses the REST paths of the Kubernetes API into what a request is about.
import { kindByPlural, type ResourceKind } from './kinds.js';

export interface ResourcePath {
  kind: ResourceKind;
  namespace?: string;
  name?: string;
  /** status, log, proxy, ... */
  subresource?: string;
  /** pods/{name}:{port}/proxy/<rest> */
  proxyPort?: number;
  proxyRest?: string;
}

export type ParsedPath =
  | { type: 'resource'; path: ResourcePath }
  | { type: 'discovery'; group?: string; version?: string; root: 'api' | 'apis' }
  | { type: 'version' }
  | { type: 'unknown' };

export function parsePath(pathname: string, openshift: boolean): ParsedPath {
  const segments = pathname
    .split('/')
    .filter((segment) => segment.length > 0)
    .map(decodeURIComponent);
  if (segments[0] === 'version' && segments.length === 1) return { type: 'version' };
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (segments[0] === 'api') {
    group = '';
    version = segments[1];
    rest = segments.slice(2);
    if (!version) return { type: 'discovery', root: 'api' };
  } else if (segments[0] === 'apis') {
    if (segments.length === 1) return { type: 'discovery', root: 'apis' };
    group = segments[1]!;
    version = segments[2];
    rest = segments.slice(3);
    if (!version) return { type: 'discovery', root: 'apis', group };
  } else {
    return { type: 'unknown' };
  }
  if (rest.length === 0) return { type: 'discovery', root: segments[0] === 'api' ? 'api' : 'apis', group, version };

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && kindByPlural(group, version, rest[2]!, openshift)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const kind = kindByPlural(group, version, rest[0]!, openshift);
  if (!kind) return { type: 'unknown' };
  const path: ResourcePath = { kind, ...(namespace !== undefined ? { namespace } : {}) };
  if (rest[1] !== undefined) {
    const nameAndPort = rest[1];
    const colon = kind.kind === 'Pod' ? nameAndPort.lastIndexOf(':') : -1;
    path.name = colon > 0 ? nameAndPort.slice(0, colon) : nameAndPort;
    if (colon > 0) path.proxyPort = Number(nameAndPort.slice(colon + 1));
  }
  if (rest[2] !== undefined) path.subresource = rest[2];
  if (path.subresource === 'proxy') path.proxyRest = `/${rest.slice(3).join('/')}${pathname.endsWith('/') && rest.length > 3 ? '/' : ''}`;
  return { type: 'resource', path };
}
