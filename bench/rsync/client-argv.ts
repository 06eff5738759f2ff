// The rsync client command line for the bench's own clients: MTC's defaults (archive, hard links,
// delete, partial) plus what dvm always adds (numeric ids, no incremental recursion, sparse files:
// agent/rsync/client-argv.ts), so every transport moves the same data the same way and a
// transport's figures minus plain's are the tunnel's own. (--sparse costs the receiver a scan of
// every block for zeros: before it was here, that cost counted as dvm's tunnel.)

export const MTC_RSYNC_FLAGS = ['-a', '--hard-links', '--delete', '--partial', '--numeric-ids', '--no-inc-recursive', '--sparse'];

export function loopbackDaemonUrl(port: number, module: string): string {
  return `rsync://127.0.0.1:${port}/${module}/`;
}

export function rsyncClientArgv(sourceDir: string, destinationUrl: string): string[] {
  const source = sourceDir.endsWith('/') ? sourceDir : `${sourceDir}/`;
  return [...MTC_RSYNC_FLAGS, source, destinationUrl];
}
