// The agent's configuration file (JSON or YAML): what the controller writes into the transfer pods
// and what `dvm migrate --local` writes for its local agents.
import { parse as parseYaml } from 'yaml';
import { InputTooLargeError, readBoundedText } from './input-file.js';
import { z } from 'zod';
import { rsyncSettingsSchema } from './rsync-settings.js';
import { proxySettingsSchema } from './proxy-settings.js';
import { pvcIdentityUri } from './identity.js';

export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, 'must be host:port')
  .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

export const tlsFiles = z.object({
  ca: z.string().min(1),
  cert: z.string().min(1),
  key: z.string().min(1),
});

export const MODULE_NAME = /^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/;

/** Where a client dials, and the name the server certificate must carry (the SNI sent too, which
 * Routes route on). */
export const serverAddress = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  serverName: z.string().min(1),
});

/** What every server agent (files and block devices alike) says about its TLS listener. */
export const tunnelServerFields = {
  tls: tlsFiles,
  tlsMinVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.3'),
  handshakeTimeoutMs: z.number().int().positive().default(10_000),
  /** An authenticated client that says nothing this long is dropped before any work starts. */
  firstByteTimeoutMs: z.number().int().positive().default(30_000),
  maxConnections: z.number().int().positive().default(32),
};

export const serverConfigSchema = z.object({
  ...tunnelServerFields,
  listen: hostPort.default('0.0.0.0:2222'),
  /** /healthz, /readyz and /metrics. */
  healthListen: hostPort.default('0.0.0.0:8080'),
  modules: z
    .array(
      z.object({
        name: z.string().regex(MODULE_NAME, 'must be a lowercase rsync module name'),
        path: z.string().min(1),
        /** The URI a client certificate must carry to push here. */
        client: pvcIdentityUri,
      }),
    )
    .min(1, 'needs at least one module'),
  rsyncPath: z.string().default('rsync'),
  workDir: z.string().optional(),
});

export const clientConfigSchema = z.object({
  /** The PVC this client copies, as it appears in events ("namespace/name" or a local label). */
  pvc: z.string().min(1),
  server: serverAddress,
  tls: tlsFiles,
  module: z.string().regex(MODULE_NAME, 'must be a lowercase rsync module name'),
  source: z.string().min(1),
  settings: rsyncSettingsSchema.extend(proxySettingsSchema.shape).default(() => rsyncSettingsSchema.extend(proxySettingsSchema.shape).parse({})),
  verify: z.boolean().default(false),
  /** Websocket (/progress) and /metrics; off when absent. */
  progressListen: hostPort.optional(),
  terminationLog: z.string().default('/dev/termination-log'),
  progressIntervalMs: z.number().int().positive().default(1000),
  retryBaseMs: z.number().int().positive().default(2000),
  retryMaxMs: z.number().int().positive().default(120_000),
  rsyncPath: z.string().default('rsync'),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;
export type ClientConfig = z.infer<typeof clientConfigSchema>;

/** Names the first offending key, so a bad file gets one line that says what to fix. */
export function describeZodError(error: z.ZodError, prefix = ''): string {
  const issue = error.issues[0];
  if (!issue) return `${prefix}invalid`;
  const path = issue.path.join('.');
  return `${prefix}${path || '(top level)'}: ${issue.message}`;
}

export function loadConfigFile<T extends z.ZodTypeAny>(schema: T, file: string): z.infer<T> {
  let raw: unknown;
  try {
    // At most 1 MiB, checked before parsing (contract/input-file.ts).
    raw = parseYaml(readBoundedText(file, 'agent config'));
  } catch (error) {
    if (error instanceof InputTooLargeError) throw error;
    throw new Error(`cannot read agent config ${file}: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(describeZodError(parsed.error, `agent config ${file}: `));
  return parsed.data;
}
