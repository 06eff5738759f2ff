// Turning files and flags into validated spec and settings. Every failure is a ConfigError whose
// message names the file and the key.
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { describeZodError } from '../../contract/agent-config.js';
import { InputTooLargeError, readBoundedText } from '../../contract/input-file.js';
import { ConfigError } from './errors.js';
import { controllerSettingsSchema, unknownOwnKeys, type ControllerSettings } from './settings.js';
import { migrationSpecSchema, type MigrationSpec } from './spec.js';

/** A YAML (or JSON) input file, at most 1 MiB (contract/input-file.ts), checked before it is parsed. */
export function readYamlFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readBoundedText(file, what);
  } catch (error) {
    if (error instanceof InputTooLargeError) throw new ConfigError(error.message);
    throw new ConfigError(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${what} ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** A whole CR (apiVersion/kind/spec) or just its spec. */
function specOf(raw: unknown, expectedKind: string, label: string): { body: Record<string, unknown>; prefix: string; metadata?: Record<string, unknown> } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${label}: must be a mapping`);
  const object = raw as Record<string, unknown>;
  if ('kind' in object || 'spec' in object) {
    if (object.kind !== undefined && object.kind !== expectedKind) {
      throw new ConfigError(`${label}: kind: expected ${expectedKind}, got ${String(object.kind)}`);
    }
    const body = object.spec;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ConfigError(`${label}: spec: must be a mapping`);
    const metadata = typeof object.metadata === 'object' && object.metadata !== null ? (object.metadata as Record<string, unknown>) : undefined;
    return { body: body as Record<string, unknown>, prefix: 'spec.', ...(metadata ? { metadata } : {}) };
  }
  return { body: object, prefix: '' };
}

function parseWith<T extends z.ZodTypeAny>(schema: T, body: unknown, label: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ConfigError(describeZodError(parsed.error, `${label}: `));
  return parsed.data;
}

export interface LoadedSpec {
  spec: MigrationSpec;
  /** metadata.uid or metadata.name of a DirectVolumeMigration CR, when given one. */
  suggestedRunId?: string;
}

export function parseSpec(raw: unknown, label = 'spec'): LoadedSpec {
  const { body, prefix, metadata } = specOf(raw, 'DirectVolumeMigration', label);
  const spec = parseWith(migrationSpecSchema, body, `${label}${prefix ? ` ${prefix.slice(0, -1)}` : ''}`);
  const suggested = metadata?.uid ?? metadata?.name;
  return { spec, ...(typeof suggested === 'string' ? { suggestedRunId: suggested } : {}) };
}

export function parseSettings(raw: unknown, label = 'settings'): ControllerSettings {
  if (raw === undefined || raw === null) return controllerSettingsSchema.parse({});
  const { body, prefix } = specOf(raw, 'MigrationController', label);
  const unknown = unknownOwnKeys(body);
  if (unknown.length > 0) throw new ConfigError(`${label}: ${prefix}${unknown[0]}: unknown setting`);
  return parseWith(controllerSettingsSchema, body, `${label}${prefix ? ` ${prefix.slice(0, -1)}` : ''}`);
}

export function loadSpecFile(file: string): LoadedSpec {
  return parseSpec(readYamlFile(file, 'spec file'), file);
}

/** Settings from a MigrationController CR file (optional) with flag values laid over it. */
export function loadSettings(file: string | undefined, overrides: Record<string, unknown> = {}): ControllerSettings {
  const fromFile = file === undefined ? {} : readYamlFile(file, 'settings file');
  const label = file ?? 'settings';
  const { body } = file === undefined ? { body: {} } : specOf(fromFile, 'MigrationController', label);
  const merged = { ...body, ...Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) };
  return parseSettings(merged, label);
}
