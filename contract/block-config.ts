// Config files of the block copier (docs/block.md), shared like the file copy's (agent-config.ts): the
// controller writes them, the agent reads them: a block server (destination) with its targets,
// and a block client (source) that copies one device. The server decides which device a client
// writes: a client names a target, never a path.
import { z } from 'zod';
import { hostPort, MODULE_NAME, serverAddress, tlsFiles, tunnelServerFields } from './agent-config.js';
import { pvcIdentityUri } from './identity.js';
import { proxySettingsSchema } from './proxy-settings.js';

/** Targets are named like rsync modules. */
export const TARGET_NAME = MODULE_NAME;

export const MIN_BLOCK_SIZE = 64 * 1024;
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024;
export const DEFAULT_BLOCK_SIZE = 1024 * 1024;

export const blockSize = z
  .number()
  .int()
  .min(MIN_BLOCK_SIZE, `must be at least ${MIN_BLOCK_SIZE}`)
  .max(MAX_BLOCK_SIZE, `must be at most ${MAX_BLOCK_SIZE}`)
  .refine((value) => (value & (value - 1)) === 0, 'must be a power of two');

export const blockServerConfigSchema = z.object({
  ...tunnelServerFields,
  listen: hostPort.default('0.0.0.0:2223'),
  /** /healthz, /readyz and /metrics. */
  healthListen: hostPort.default('0.0.0.0:8081'),
  targets: z
    .array(
      z.object({
        name: z.string().regex(TARGET_NAME, 'must be a lowercase name'),
        /** A block device (volumeDevices devicePath) or a regular file standing in for one. It must exist. */
        path: z.string().min(1),
        /** The URI a client certificate must carry to write here. */
        client: pvcIdentityUri,
      }),
    )
    .min(1, 'needs at least one target')
    .refine((targets) => new Set(targets.map((target) => target.name)).size === targets.length, 'target names must be unique'),
  /** A session that receives nothing this long is dropped (a client that vanished without a FIN). */
  idleTimeoutMs: z.number().int().positive().default(120_000),
  /** util-linux fallocate, used to punch holes into a regular-file target (keeps it sparse). */
  fallocatePath: z.string().default('fallocate'),
});

export const blockClientSettingsSchema = proxySettingsSchema.extend({
  rsync_backoff_limit: z.number().int().min(0).max(1000).default(20),
});

export const blockClientConfigSchema = z.object({
  /** The PVC this client copies, as it appears in events ("namespace/name" or a local label). */
  pvc: z.string().min(1),
  server: serverAddress,
  tls: tlsFiles,
  /** The server's target name (like a module): where it lands is the server's choice. */
  target: z.string().regex(TARGET_NAME, 'must be a lowercase name'),
  /** The source block device (or a regular file standing in for one). */
  source: z.string().min(1),
  blockSizeBytes: blockSize.default(DEFAULT_BLOCK_SIZE),
  settings: blockClientSettingsSchema.default(() => blockClientSettingsSchema.parse({})),
  verify: z.boolean().default(false),
  progressListen: hostPort.optional(),
  terminationLog: z.string().default('/dev/termination-log'),
  progressIntervalMs: z.number().int().positive().default(1000),
  retryBaseMs: z.number().int().positive().default(2000),
  retryMaxMs: z.number().int().positive().default(120_000),
  /** No server frame for this long during a session counts as a lost connection. */
  idleTimeoutMs: z.number().int().positive().default(120_000),
});

export type BlockServerConfig = z.infer<typeof blockServerConfigSchema>;
export type BlockClientConfig = z.infer<typeof blockClientConfigSchema>;
