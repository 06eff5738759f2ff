// The kinds dvm creates and labels with a run, with their REST coordinates: cleanup and status walk
// this list, and watches build their paths from it.
export interface LabelledKind {
  apiVersion: string;
  kind: string;
  plural: string;
  /** Not every cluster serves it (Routes only on OpenShift). */
  optional?: boolean;
}

/** In deletion order: pods first, so nothing keeps using a Secret or Service being removed. */
export const LABELLED_KINDS: LabelledKind[] = [
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods' },
  { apiVersion: 'route.openshift.io/v1', kind: 'Route', plural: 'routes', optional: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies' },
];

export function collectionPath(kind: Pick<LabelledKind, 'apiVersion' | 'plural'>, namespace?: string): string {
  const root = kind.apiVersion.includes('/') ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
  return namespace === undefined ? `${root}/${kind.plural}` : `${root}/namespaces/${namespace}/${kind.plural}`;
}

export const POD_KIND = LABELLED_KINDS[0]!;
export const SERVICE_KIND = LABELLED_KINDS[2]!;
export const ROUTE_KIND = LABELLED_KINDS[1]!;
