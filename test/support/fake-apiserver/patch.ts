// PATCH bodies as the API server applies them: JSON merge patch (RFC 7386), strategic merge patch
// (treated as a merge patch: enough for the fields clients here patch) and JSON patch (RFC 6902).
import { ApiError, type KubeObject } from './store.js';

export function applyPatch(target: KubeObject, contentType: string, body: unknown): KubeObject {
  const type = contentType.split(';')[0]!.trim();
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') {
    return mergePatch(target, body) as KubeObject;
  }
  if (type === 'application/json-patch+json') return jsonPatch(target, body);
  throw new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${type})`,
  );
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function jsonPatch(target: KubeObject, operations: unknown): KubeObject {
  if (!Array.isArray(operations)) throw new ApiError(400, 'BadRequest', 'json patch must be an array');
  const document = structuredClone(target);
  for (const operation of operations as Array<{ op: string; path: string; value?: unknown }>) {
    const keys = operation.path
      .split('/')
      .slice(1)
      .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop();
    if (last === undefined) throw new ApiError(422, 'Invalid', `invalid json patch path ${operation.path}`);
    const parent = keys.reduce<any>((node, key) => node?.[key], document);
    if (parent === undefined || parent === null) throw new ApiError(422, 'Invalid', `json patch path not found: ${operation.path}`);
    switch (operation.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, operation.value);
        else parent[last] = operation.value;
        break;
      case 'replace':
        if (!(last in parent)) throw new ApiError(422, 'Invalid', `json patch replace of missing path ${operation.path}`);
        parent[last] = operation.value;
        break;
      case 'remove':
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(operation.value)) throw new ApiError(422, 'Invalid', `json patch test failed at ${operation.path}`);
        break;
      default:
        throw new ApiError(422, 'Invalid', `unsupported json patch op ${operation.op}`);
    }
  }
  return document;
}
