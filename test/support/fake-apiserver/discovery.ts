// Discovery documents (/api, /apis, /api/v1, /apis/{group}/{version}): KubernetesObjectApi reads
// them to map kinds to plurals.
import { KINDS } from './kinds.js';

export function discoveryDocument(root: 'api' | 'apis', openshift: boolean, group?: string, version?: string): Record<string, unknown> | undefined {
  const kinds = KINDS.filter((kind) => openshift || !kind.openshift);
  if (root === 'api' && version === undefined) return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (root === 'apis' && group === undefined) {
    const groups = [...new Set(kinds.filter((kind) => kind.group !== '').map((kind) => `${kind.group}/${kind.version}`))];
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((groupVersion) => {
        const [name, groupVersionOnly] = groupVersion.split('/') as [string, string];
        const entry = { groupVersion, version: groupVersionOnly };
        return { name, versions: [entry], preferredVersion: entry };
      }),
    };
  }
  const matching = kinds.filter((kind) => kind.group === (group ?? '') && (version === undefined || kind.version === version));
  if (matching.length === 0) return undefined;
  if (version === undefined) {
    const entry = { groupVersion: `${group}/${matching[0]!.version}`, version: matching[0]!.version };
    return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: [entry], preferredVersion: entry };
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: matching.flatMap((kind) => [
      {
        name: kind.plural,
        singularName: kind.kind.toLowerCase(),
        namespaced: kind.namespaced,
        kind: kind.kind,
        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      },
      { name: `${kind.plural}/status`, singularName: '', namespaced: kind.namespaced, kind: kind.kind, verbs: ['get', 'patch', 'update'] },
    ]),
  };
}
