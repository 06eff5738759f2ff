// Pod and container security: non-root and locked down by default (the `restricted` Pod Security
// Standard), root on request (migration_rsync_privileged) so rsync can keep file ownership.
import type { ControllerSettings } from '../config/settings.js';

export type Side = 'source' | 'target';

/** Capabilities root rsync needs to set owners, modes and times on files it does not own. */
const ROOT_CAPABILITIES = ['CHOWN', 'FOWNER', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'SETGID', 'SETUID', 'FSETID', 'MKNOD'];

export function podSecurityContext(settings: ControllerSettings, side: Side): Record<string, unknown> {
  const groups = side === 'source' ? settings.src_supplemental_groups : settings.target_supplemental_groups;
  const context: Record<string, unknown> = {
    seccompProfile: { type: 'RuntimeDefault' },
    ...(groups.length > 0 ? { supplementalGroups: groups } : {}),
  };
  if (settings.migration_rsync_privileged) return { ...context, runAsUser: 0, runAsGroup: 0, runAsNonRoot: false };
  return {
    ...context,
    runAsNonRoot: true,
    // The TLS Secret is 0400: a non-root user reads it through fsGroup (OpenShift's SCC sets one).
    ...(settings.rsync_fs_group !== undefined ? { fsGroup: settings.rsync_fs_group, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
  };
}

export function containerSecurityContext(settings: ControllerSettings): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: settings.migration_rsync_privileged ? { drop: ['ALL'], add: ROOT_CAPABILITIES } : { drop: ['ALL'] },
    ...(settings.migration_rsync_privileged ? { runAsNonRoot: false } : { runAsNonRoot: true }),
  };
}

export function containerResources(settings: ControllerSettings, side: Side): Record<string, unknown> {
  const pick = side === 'source'
    ? { limits: { cpu: settings.source_rsync_pod_cpu_limits, memory: settings.source_rsync_pod_memory_limits },
        requests: { cpu: settings.source_rsync_pod_cpu_requests, memory: settings.source_rsync_pod_memory_requests } }
    : { limits: { cpu: settings.target_rsync_pod_cpu_limits, memory: settings.target_rsync_pod_memory_limits },
        requests: { cpu: settings.target_rsync_pod_cpu_requests, memory: settings.target_rsync_pod_memory_requests } };
  return pick;
}

/** Mode of mounted Secret files: 0400 (decimal 256), readable by the pod's user (and fsGroup) only. */
export const SECRET_FILE_MODE = 0o400;
