// The resources the fake API server serves, with the REST coordinates the real servers use.
export interface ResourceKind {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Served only when the fake cluster plays OpenShift. */
  openshift?: boolean;
}

export const KINDS: ResourceKind[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true },
  { group: 'route.openshift.io', version: 'v1', plural: 'routes', kind: 'Route', namespaced: true, openshift: true },
  { group: 'config.openshift.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', namespaced: false, openshift: true },
];

export function apiVersionOf(kind: ResourceKind): string {
  return kind.group === '' ? kind.version : `${kind.group}/${kind.version}`;
}

export function kindByPlural(group: string, version: string, plural: string, openshift: boolean): ResourceKind | undefined {
  return KINDS.find((kind) => kind.group === group && kind.version === version && kind.plural === plural && (openshift || !kind.openshift));
}

export function kindByName(kindName: string): ResourceKind {
  const kind = KINDS.find((candidate) => candidate.kind === kindName);
  if (!kind) throw new Error(`fake API: unknown kind ${kindName}`);
  return kind;
}
