// The --local half of `dvm migrate`: flags in, a local migration with progress out, exit code back.
import { parseLocalOptions, type LocalFlags } from '../local/options.js';
import { runLocalMigration } from '../local/run-local.js';
import { ProgressAggregate } from '../progress/aggregate.js';
import { startProgressServer, type ProgressServer } from '../progress/server.js';
import { startProgressView } from '../progress/view.js';

export interface LocalCommandFlags extends LocalFlags {
  json?: boolean;
  token?: string;
}

export async function migrateLocal(source: string | undefined, destination: string | undefined, flags: LocalCommandFlags): Promise<number> {
  const options = parseLocalOptions(source, destination, flags);
  const abort = new AbortController();
  const interrupt = (): void => abort.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const aggregate = new ProgressAggregate([options.pvc]);
  // Machines read stdout; people read the bars or lines on stderr.
  const view = startProgressView(aggregate, flags.json ? { mode: 'json', stream: process.stdout } : { mode: 'auto', stream: process.stderr });
  let server: ProgressServer | null = null;
  try {
    if (options.listen) {
      server = await startProgressServer({ listen: options.listen, aggregate, ...(flags.token ? { token: flags.token } : {}) });
      process.stderr.write(`progress: ${server.url}\n`);
    }
    const { result, exitCode } = await runLocalMigration(options, (event) => aggregate.apply(event), abort.signal);
    aggregate.finish(abort.signal.aborted ? 'interrupted' : result?.status === 'Succeeded' ? undefined : result?.message);
    return abort.signal.aborted ? 130 : exitCode;
  } finally {
    view.stop();
    await server?.close();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
