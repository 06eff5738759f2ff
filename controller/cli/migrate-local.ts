// The --local half of `dvm migrate`: flags in, a local migration with progress out, exit code back.
import type { AgentEvent } from '../../agent/progress/events.js';
import { parseLocalOptions, type LocalFlags } from '../local/options.js';
import { runLocalMigration } from '../local/run-local.js';
import { ProgressAggregate } from '../progress/aggregate.js';
import { startProgressServer } from '../progress/server.js';
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

  let aggregate: ProgressAggregate | null = null;
  let view: { stop(): void } | null = null;
  let server: Awaited<ReturnType<typeof startProgressServer>> | null = null;
  const onEvent = (event: AgentEvent): void => {
    if (!aggregate) {
      aggregate = new ProgressAggregate([event.pvc]);
      view = startProgressView(aggregate, { mode: flags.json ? 'json' : 'auto', stream: flags.json ? process.stdout : process.stderr });
    }
    aggregate.apply(event);
  };
  try {
    if (options.listen) {
      // The page needs the PVC list before the first event arrives.
      aggregate = new ProgressAggregate([]);
      view = startProgressView(aggregate, { mode: flags.json ? 'json' : 'auto', stream: flags.json ? process.stdout : process.stderr });
      server = await startProgressServer({ listen: options.listen, aggregate, ...(flags.token ? { token: flags.token } : {}) });
      process.stderr.write(`progress: ${server.url}\n`);
    }
    const { result, exitCode } = await runLocalMigration(options, onEvent, abort.signal);
    (aggregate as ProgressAggregate | null)?.finish(result?.message);
    view?.stop();
    if (result) {
      const mib = (result.bytes / 2 ** 20).toFixed(1);
      process.stderr.write(`${result.status}: ${mib} MiB sent, ${result.files} entries checked, ${(result.durationMs / 1000).toFixed(1)} s, ` +
        `${result.attempts} attempt(s)${result.verified === null ? '' : result.verified ? ', verified' : ', NOT verified'}` +
        `${result.status === 'Failed' ? ` — ${result.message}` : ''}\n`);
    }
    return abort.signal.aborted ? 130 : exitCode;
  } finally {
    view?.stop();
    await server?.close();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
