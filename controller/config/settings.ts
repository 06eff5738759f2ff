// Controller settings: the `spec` keys of MTC's MigrationController CR, spelled as MTC spells them.
// rsync_opt_* / rsync_backoff_limit and stunnel_tcp_proxy / noProxy come from the agent's own schemas
// so the two sides can never disagree about a key. A whole MigrationController CR is accepted as is:
// its other keys (velero, UI, ...) are not ours and are ignored, except unknown rsync_* keys, which
// are almost certainly typos of ours.
import { z } from 'zod';
import { boolish, rsyncSettingsSchema } from '../../contract/rsync-settings.js';
import { proxySettingsSchema } from '../../contract/proxy-settings.js';

export const ENDPOINT_TYPES = ['Route', 'NodePort', 'ClusterIP', 'LoadBalancer'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export const DEFAULT_TRANSFER_IMAGE = 'quay.io/konveyor/dvm-agent:latest';

const groupList = z
  .union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))])
  .default('')
  .transform((value, ctx) => {
    const entries = Array.isArray(value) ? value.map(String) : String(value).split(',');
    const groups: number[] = [];
    for (const entry of entries.map((item) => item.trim()).filter((item) => item.length > 0)) {
      if (!/^\d+$/.test(entry) || Number(entry) > 4294967294) {
        ctx.addIssue({ code: 'custom', message: `must be comma-separated numeric group ids like "1000,2000" (got "${entry}")` });
        return z.NEVER;
      }
      groups.push(Number(entry));
    }
    return groups;
  });

const quantity = z
  .union([z.string(), z.number()])
  .transform((value) => String(value))
  .refine((value) => /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/.test(value), 'must be a Kubernetes quantity such as 400m, 1, 1Gi');

const positiveInt = (what: string) =>
  z.coerce
    .number({ error: `must be a whole number of ${what}` })
    .int(`must be a whole number of ${what}`)
    .positive(`must be a positive number of ${what}`);
const dnsSubdomain = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a DNS subdomain such as apps.example.com');

export const controllerSettingsSchema = z
  .object({
    rsync_endpoint_type: z.enum(ENDPOINT_TYPES, { error: `must be one of ${ENDPOINT_TYPES.join(', ')}` }).default('Route'),
    cluster_subdomain: dnsSubdomain.optional(),
    src_supplemental_groups: groupList,
    target_supplemental_groups: groupList,
    rsync_transfer_image_fqin: z.string().min(1).default(DEFAULT_TRANSFER_IMAGE),
    /** Run the transfer pods as root, which keeps file ownership (MTC's key). */
    migration_rsync_privileged: boolish.default(false),
    /** fsGroup for non-root pods on clusters that do not assign one (OpenShift's SCC does). */
    rsync_fs_group: z.coerce.number({ error: 'must be a numeric group id' }).int('must be a numeric group id').min(0, 'must be a numeric group id').optional(),
    source_rsync_pod_cpu_limits: quantity.default('1'),
    source_rsync_pod_memory_limits: quantity.default('1Gi'),
    source_rsync_pod_cpu_requests: quantity.default('400m'),
    source_rsync_pod_memory_requests: quantity.default('1Gi'),
    target_rsync_pod_cpu_limits: quantity.default('1'),
    target_rsync_pod_memory_limits: quantity.default('1Gi'),
    target_rsync_pod_cpu_requests: quantity.default('400m'),
    target_rsync_pod_memory_requests: quantity.default('1Gi'),
    /** At most this many client pods at once. */
    rsync_max_concurrent_clients: positiveInt('pods').default(5),
    /** Create the allow-ingress/allow-egress NetworkPolicies for the rsync pods. */
    rsync_network_policies: boolish.default(false),
    /** Source storage class name -> destination storage class name. */
    storage_class_mapping: z.record(z.string(), z.string()).default({}),
    /** How long to wait for a server pod and its endpoint to be ready, and for each client pod to start. */
    rsync_server_ready_timeout_seconds: positiveInt('seconds').default(300),
  })
  .extend(rsyncSettingsSchema.shape)
  .extend(proxySettingsSchema.shape);

export type ControllerSettings = z.infer<typeof controllerSettingsSchema>;
export type ControllerSettingsInput = z.input<typeof controllerSettingsSchema>;

const KNOWN_KEYS = new Set(Object.keys(controllerSettingsSchema.shape));

/** Our own key family: an unknown key here is a typo, not somebody else's setting. */
export function isOwnKeyFamily(key: string): boolean {
  return key.startsWith('rsync_') || key.startsWith('stunnel_');
}

export function unknownOwnKeys(raw: Record<string, unknown>): string[] {
  return Object.keys(raw).filter((key) => isOwnKeyFamily(key) && !KNOWN_KEYS.has(key));
}
