// rsyncd.conf for the benchmark's daemons (plain TCP daemon, stunnel's connect/exec targets).
// Pure: returns the text.

export const BENCH_MODULE = 'bench';

export interface DaemonConfigInput {
  destDir: string;
  logFile: string;
  /** Run transfers as root so owners are kept (as MTC's root rsync daemon does). */
  asRoot: boolean;
}

export function renderDaemonConfig({ destDir, logFile, asRoot }: DaemonConfigInput): string {
  return [
    '# written by the dvm benchmark',
    'use chroot = no',
    'numeric ids = yes',
    // Symlinks must arrive unchanged, as they do through dvm.
    'munge symlinks = no',
    ...(asRoot ? ['uid = 0', 'gid = 0'] : []),
    `log file = ${logFile}`,
    'transfer logging = no',
    '',
    `[${BENCH_MODULE}]`,
    `path = ${destDir}`,
    'read only = false',
    '',
  ].join('\n');
}
