// Validation of rendered objects against the real schemas: kubernetes-models (generated from the
// Kubernetes OpenAPI) for core and networking kinds, plus a no-unknown-fields check through
// @kubernetes/client-node's generated models (OpenAPI allows extra fields; the API server prunes
// them, so a typo would silently vanish); the OpenShift Route against our JSON schema.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';

const require = createRequire(import.meta.url);
const Ajv = require('ajv') as new (options: Record<string, unknown>) => {
  compile(schema: unknown): ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null };
};

const routeSchema = JSON.parse(readFileSync(new URL('./openshift-route-v1.schema.json', import.meta.url), 'utf8')) as unknown;
const validateRoute = new Ajv({ allErrors: true, strict: false }).compile(routeSchema);

const MODELS: Record<string, { model: new (data: any) => { validate(): void }; serializerType: string }> = {
  'v1/Pod': { model: Pod, serializerType: 'V1Pod' },
  'v1/Service': { model: Service, serializerType: 'V1Service' },
  'v1/Secret': { model: Secret, serializerType: 'V1Secret' },
  'v1/Namespace': { model: Namespace, serializerType: 'V1Namespace' },
  'v1/PersistentVolumeClaim': { model: PersistentVolumeClaim, serializerType: 'V1PersistentVolumeClaim' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, serializerType: 'V1NetworkPolicy' },
};

/** Paths present in `original` but dropped by a serialize round trip: unknown fields. */
function unknownFields(original: unknown, roundTripped: unknown, path = ''): string[] {
  if (Array.isArray(original))
    return original.flatMap((item, index) => unknownFields(item, (roundTripped as unknown[] | undefined)?.[index], `${path}[${index}]`));
  if (typeof original !== 'object' || original === null) return [];
  const rt = (roundTripped ?? {}) as Record<string, unknown>;
  return Object.entries(original).flatMap(([key, value]) => {
    // Maps (labels, data, selectors, resources) keep any key; only typed objects drop unknown ones.
    if (!(key in rt) && value !== undefined) return [`${path}.${key}`];
    return unknownFields(value, rt[key], `${path}.${key}`);
  });
}

/** Throws with every problem found in one object. */
export function validateManifest(object: Record<string, any>): void {
  const id = `${object.apiVersion}/${object.kind}`;
  if (id === 'route.openshift.io/v1/Route') {
    if (!validateRoute(object)) {
      throw new Error(`Route ${object.metadata?.name}: ${(validateRoute.errors ?? []).map((error) => `${error.instancePath} ${error.message}`).join('; ')}`);
    }
    return;
  }
  const entry = MODELS[id];
  if (!entry) throw new Error(`no schema for ${id}`);
  new entry.model(structuredClone(object)).validate();
  const deserialized = ObjectSerializer.deserialize(structuredClone(object), entry.serializerType, '');
  const serialized = ObjectSerializer.serialize(deserialized, entry.serializerType, '');
  const unknown = unknownFields(object, serialized);
  if (unknown.length > 0) throw new Error(`${object.kind} ${object.metadata?.name}: unknown field(s) ${unknown.join(', ')}`);
}
