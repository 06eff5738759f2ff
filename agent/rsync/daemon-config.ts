// rsyncd.conf for the inetd-style `rsync --daemon` the server starts per connection, one module per
// PVC. Pure: the caller writes it once, read-only. Which module a client may use, and where in it
// rsync writes, is the server's gate's to decide (daemon-request.ts), from the client's certificate.

export interface DaemonModule {
  name: string;
  path: string;
}

export interface DaemonConfigInput {
  /** A regular file: rsync cannot open a socket (our stderr) as its log. */
  logFile: string;
  modules: readonly DaemonModule[];
  /** rsync runs as root: it keeps uid and gid 0 instead of dropping to "nobody". */
  root: boolean;
}

/** Options no client of ours sends and that would write, delete or read outside what the source
 * asked for: backups and side directories, deleting excluded files, logs and batches the client
 * names, following destination symlinks, device writes, ownership mapping. rsync refuses them with
 * its own message (the client then exits 1 with "The server is configured to refuse ..."). */
export const REFUSED_OPTIONS = [
  'delete-excluded',
  'remove-source-files',
  'backup',
  'backup-dir',
  'suffix',
  'partial-dir',
  'temp-dir',
  'compare-dest',
  'copy-dest',
  'link-dest',
  'log-file',
  'log-file-format',
  'keep-dirlinks',
  'write-devices',
  'copy-devices',
  'usermap',
  'groupmap',
  'chown',
  'copy-as',
  'fake-super',
  'iconv',
  'read-batch',
  'write-batch',
  'only-write-batch',
  'early-input',
  'insecure-links',
  'relative',
  'mkpath',
  'delay-updates',
  // The rest of the arguments would arrive inside the protocol, past the server's gate.
  'secluded-args',
  'protect-args',
  // A file list the server would read from its own file system.
  'files-from',
  'from0',
] as const;

/** The destination argument the server gives rsync for a module, whatever the client asked for:
 * the volume's absolute path inside the module, which serves "/". */
export function destinationFor(module: DaemonModule): string {
  return `${module.name}/${module.path.replace(/^\/+|\/+$/g, '')}/`;
}

export function renderDaemonConfig({ logFile, modules, root }: DaemonConfigInput): string {
  // rsync stores symlinks unchanged only when the module it serves is "/" (chrooted into the volume,
  // or path = /). Anything else makes it munge or sanitize them, and an absolute link would arrive
  // without its leading slash. Every module serves "/" and the server (daemon-request.ts) replaces
  // the client's destination with the volume's path, as root and without.
  //
  // Why not chroot as root: rsync 3.5 then resolves every file's path again from the module root,
  // one component at a time, for each chmod, utime and rename (a geteuid, an fstatat and an O_PATH
  // openat per directory level), where without chroot it works from one directory fd per directory
  // with O_NOFOLLOW opens. Measured on 200,000 small files: 1.8 million openat, 1.6 million fstatat
  // and 1.6 million close under chroot against 0.8, 0.6 and 0.6 million without, and the receiving
  // side's CPU was what limited a many-files copy (bench/README.md, "Where a many-files copy's
  // server CPU went"). Both modes now rely on the same protections: the server-chosen destination,
  // the refused options and rsync's own no-follow opens (docs/confinement.md).
  const global = [
    'use chroot = no',
    'munge symlinks = no',
    'numeric ids = yes',
    // As root, rsyncd would otherwise drop to "nobody" and lose ownership. Without root it cannot
    // switch users at all, and naming one makes it try setgroups() and refuse the module.
    ...(root ? ['uid = 0', 'gid = 0'] : []),
    // The client address is meaningless behind the tunnel; skip DNS.
    'reverse lookup = no',
    `log file = ${logFile}`,
    'transfer logging = no',
  ];
  const sections = modules.map((module) =>
    [
      `[${module.name}]`,
      '    path = /',
      '    read only = no',
      // Push only: nobody can read the destination back through the tunnel.
      '    write only = yes',
      '    list = no',
      `    refuse options = ${REFUSED_OPTIONS.join(' ')}`,
    ].join('\n'),
  );
  return `${global.join('\n')}\n\n${sections.join('\n\n')}\n`;
}
