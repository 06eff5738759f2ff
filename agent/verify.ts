// The optional verify pass: a checksum dry run through the same tunnel. rsync itemizes every entry
// whose content or metadata differ; none means the destination equals the source.
import type { ClientConfig } from './config.js';
import { buildClientArgv } from './rsync/options.js';
import { parseProgress2Line } from './rsync/progress2.js';
import { runRsync } from './rsync/pty-runner.js';

const ITEMIZED = /^(\*deleting\s|[<>ch.][fdLDS][.+?a-zA-Z ]{9}\s)/;

export interface VerifyOptions {
  config: ClientConfig;
  env: NodeJS.ProcessEnv;
  destinationUrl: string;
  signal: AbortSignal;
}

export async function verifyCopy({ config, env, destinationUrl, signal }: VerifyOptions): Promise<{ identical: boolean; message: string }> {
  const differing: string[] = [];
  const argv = buildClientArgv({ settings: config.settings, source: config.source, destinationUrl, dryRunChecksum: true });
  const run = await runRsync({
    rsyncPath: config.rsyncPath,
    argv,
    env,
    signal,
    onLine: (line) => {
      if (!parseProgress2Line(line) && ITEMIZED.test(line)) differing.push(line.trim());
    },
  });
  if (run.exitCode !== 0 && run.exitCode !== 24) {
    return { identical: false, message: `verify pass failed: rsync exit ${run.exitCode} ${run.messages.slice(-2).join(' | ')}` };
  }
  if (differing.length > 0) {
    return { identical: false, message: `verify found ${differing.length} entries that differ, e.g. ${differing.slice(0, 3).join('; ')}` };
  }
  return { identical: true, message: 'checksums match' };
}
