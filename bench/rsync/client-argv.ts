// The rsync client command line for the bench's own clients: MTC's defaults (archive, hard links,
// delete, partial) plus what dvm always adds (numeric ids, no incremental recursion), so every
// transport moves the same data the same way.

export const MTC_RSYNC_FLAGS = ['-a', '--hard-links', '--delete', '--partial', '--numeric-ids', '--no-inc-recursive'];

export function loopbackDaemonUrl(port: number, module: string): string {
  return `rsync://127.0.0.1:${port}/${module}/`;
}

export function rsyncClientArgv(sourceDir: string, destinationUrl: string): string[] {
  const source = sourceDir.endsWith('/') ? sourceDir : `${sourceDir}/`;
  return [...MTC_RSYNC_FLAGS, source, destinationUrl];
}
