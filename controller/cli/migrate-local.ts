// The --local half of `dvm migrate`: flags in, a local migration with progress out, exit code back.
import { parseLocalOptions, type LocalFlags } from '../local/options.js';
import { runLocalMigration } from '../local/run-local.js';
import { resolveCliSecrets } from './secrets.js';
import { ProgressAggregate } from '../progress/aggregate.js';
import { startProgressOutputs } from '../progress/outputs.js';
import { checkProgressListen } from './cluster.js';

export interface LocalCommandFlags extends LocalFlags {
  json?: boolean;
  /** Seen by every user in ps: --token-file or DVM_TOKEN keep it out of sight. */
  token?: string;
  tokenFile?: string;
  /** The proxy URL from a file instead of --proxy (which ps shows). */
  proxyFile?: string;
}

export async function migrateLocal(source: string | undefined, destination: string | undefined, flags: LocalCommandFlags): Promise<number> {
  const { proxyFile, tokenFile, token: tokenFlag, ...rest } = flags;
  const { proxy, token } = resolveCliSecrets({ proxy: rest.proxy, proxyFile, token: tokenFlag, tokenFile });
  const { proxy: _flag, ...others } = rest;
  const options = parseLocalOptions(source, destination, { ...others, ...(proxy ? { proxy: proxy.value, proxySource: proxy.from } : {}) });
  checkProgressListen(options.listen, token);
  const aggregate = new ProgressAggregate([options.pvc]);
  const { stop } = await startProgressOutputs(aggregate, {
    json: flags.json === true,
    ...(options.listen ? { listen: options.listen } : {}),
    ...(token ? { token } : {}),
  });
  const abort = new AbortController();
  const interrupt = (): void => abort.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const { result, exitCode } = await runLocalMigration(
      options,
      (event) => aggregate.apply(event),
      abort.signal,
      (notice) => process.stderr.write(`dvm: ${notice}\n`),
    );
    aggregate.finish(abort.signal.aborted ? 'interrupted' : result?.status === 'Succeeded' ? undefined : result?.message);
    return abort.signal.aborted ? 130 : exitCode;
  } finally {
    await stop();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
