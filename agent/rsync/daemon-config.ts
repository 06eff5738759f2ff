// rsyncd.conf for `rsync --server --daemon`, one module per PVC. Pure: the caller writes it.

export interface DaemonModule {
  name: string;
  path: string;
}

export interface DaemonConfigInput {
  modules: readonly DaemonModule[];
  uid: number;
  gid: number;
}

export function renderDaemonConfig({ modules, uid, gid }: DaemonConfigInput): string {
  const global = [
    // The TLS tunnel is the only way in: no chroot is needed to contain a client we authenticated,
    // and without chroot rsync would otherwise munge symlinks, which must arrive unchanged.
    'use chroot = no',
    'munge symlinks = no',
    'numeric ids = yes',
    // Run as whoever we are; as root rsyncd would otherwise drop to "nobody" and lose ownership.
    `uid = ${uid}`,
    `gid = ${gid}`,
    // The client address is meaningless behind the tunnel; skip DNS.
    'reverse lookup = no',
    'log file = /dev/stderr',
    'transfer logging = no',
  ];
  const sections = modules.map((module) => [
    `[${module.name}]`,
    `    path = ${module.path}`,
    '    read only = no',
    // Push only: nobody can read the destination back through the tunnel.
    '    write only = yes',
    '    list = no',
  ].join('\n'));
  return `${global.join('\n')}\n\n${sections.join('\n\n')}\n`;
}
