// Pod and container security: non-root and locked down by default (the `restricted` Pod Security
// Standard), root on request (migration_rsync_privileged) so rsync can keep file ownership.
import type { V1PodSecurityContext, V1ResourceRequirements, V1SecurityContext } from '@kubernetes/client-node';
import type { ControllerSettings } from '../config/settings.js';

export type Side = 'source' | 'target';

/** Capabilities root rsync needs: set owners, modes and times on files it does not own, read any
 * file (DAC_OVERRIDE covers reading and searching too, so DAC_READ_SEARCH, which Pod Security
 * `baseline` refuses, is not asked for), and switch to the numeric ids of the files. All of them
 * are in `baseline`'s allowed list. No SYS_CHROOT: the daemon does not chroot
 * (agent/rsync/daemon-config.ts says why). */
const ROOT_CAPABILITIES = ['CHOWN', 'FOWNER', 'DAC_OVERRIDE', 'SETGID', 'SETUID', 'FSETID', 'MKNOD'];

export function podSecurityContext(settings: ControllerSettings, side: Side): V1PodSecurityContext {
  const groups = side === 'source' ? settings.src_supplemental_groups : settings.target_supplemental_groups;
  const context: V1PodSecurityContext = {
    seccompProfile: { type: 'RuntimeDefault' },
    ...(groups.length > 0 ? { supplementalGroups: groups } : {}),
  };
  if (settings.migration_rsync_privileged) return { ...context, runAsUser: 0, runAsGroup: 0, runAsNonRoot: false };
  return {
    ...context,
    runAsNonRoot: true,
    // Secret files are 0440, owned by root and group 0 (or fsGroup when set): the image's user is
    // in group 0, as OpenShift's arbitrary uids are. fsGroup is what makes a fresh volume writable
    // for a non-root destination on plain Kubernetes (OpenShift's SCC assigns one). Never on the
    // source: the kubelet would change the group and mode of the user's files to apply it.
    ...(side === 'target' && settings.rsync_fs_group !== undefined ? { fsGroup: settings.rsync_fs_group, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
  };
}

export function containerSecurityContext(settings: ControllerSettings): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: settings.migration_rsync_privileged ? { drop: ['ALL'], add: ROOT_CAPABILITIES } : { drop: ['ALL'] },
    ...(settings.migration_rsync_privileged ? { runAsNonRoot: false } : { runAsNonRoot: true }),
  };
}

export function containerResources(settings: ControllerSettings, side: Side): V1ResourceRequirements {
  const pick =
    side === 'source'
      ? {
          limits: { cpu: settings.source_rsync_pod_cpu_limits, memory: settings.source_rsync_pod_memory_limits },
          requests: { cpu: settings.source_rsync_pod_cpu_requests, memory: settings.source_rsync_pod_memory_requests },
        }
      : {
          limits: { cpu: settings.target_rsync_pod_cpu_limits, memory: settings.target_rsync_pod_memory_limits },
          requests: { cpu: settings.target_rsync_pod_cpu_requests, memory: settings.target_rsync_pod_memory_requests },
        };
  return pick;
}

/** Mode of mounted Secret files: 0440, readable by their owner (root) and group: group 0, which the
 * agent's user is in, or the fsGroup when one is set. 0400 would leave a non-root pod without
 * fsGroup unable to read its own config. */
export const SECRET_FILE_MODE = 0o440;
