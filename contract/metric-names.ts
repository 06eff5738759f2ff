// Prometheus names for what both sides expose about a PVC's copy: the client agent's /metrics (one
// PVC, in its pod) and the controller's /metrics (every PVC of a run) say the same thing under the
// same name and labels {namespace, pvc}, so one dashboard reads either.
export const PVC_METRICS = {
  transferredBytes: 'dvm_transferred_bytes_total',
  filesProcessed: 'dvm_files_processed_total',
  sourceBytes: 'dvm_source_bytes',
  transferDuration: 'dvm_transfer_duration_seconds',
  /** Failed rsync attempts (the controller also counts attempts started: dvm_rsync_attempts_total). */
  failedAttempts: 'dvm_rsync_failed_attempts_total',
} as const;
