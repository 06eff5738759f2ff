// rsyncd.conf for `rsync --server --daemon`, one module per PVC. Pure: the caller writes it.

export interface DaemonModule {
  name: string;
  path: string;
}

export interface DaemonConfigInput {
  /** A regular file: rsync cannot open a socket (our stderr) as its log. */
  logFile: string;
  modules: readonly DaemonModule[];
  uid: number;
  gid: number;
}

/** Where a client pushes inside a module: the module root when rsync can chroot into the volume,
 * else the volume's absolute path (the module then serves "/"). */
export function pushPathFor(module: DaemonModule, root: boolean): string {
  return root ? '' : module.path.replace(/^\/+|\/+$/g, '');
}

export function renderDaemonConfig({ logFile, modules, uid, gid }: DaemonConfigInput): string {
  // rsync stores symlinks unchanged only when the module it serves is "/" (chrooted into the volume,
  // or path = /). Anything else makes it munge or sanitize them, and an absolute link would arrive
  // without its leading slash. Root chroots into each volume; without root a module serves "/" and
  // the client pushes to the volume's absolute path (pushPathFor): the client is authenticated by
  // the run's CA, so the chroot is not what keeps strangers out.
  const root = uid === 0;
  const global = [
    `use chroot = ${root ? 'yes' : 'no'}`,
    'munge symlinks = no',
    'numeric ids = yes',
    // As root, rsyncd would otherwise drop to "nobody" and lose ownership. Without root it cannot
    // switch users at all, and naming one makes it try setgroups() and refuse the module.
    ...(root ? [`uid = ${uid}`, `gid = ${gid}`] : []),
    // The client address is meaningless behind the tunnel; skip DNS.
    'reverse lookup = no',
    `log file = ${logFile}`,
    'transfer logging = no',
  ];
  const sections = modules.map((module) => [
    `[${module.name}]`,
    `    path = ${root ? module.path : '/'}`,
    '    read only = no',
    // Push only: nobody can read the destination back through the tunnel.
    '    write only = yes',
    '    list = no',
  ].join('\n'));
  return `${global.join('\n')}\n\n${sections.join('\n\n')}\n`;
}
