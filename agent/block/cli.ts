// The block copier's two commands, dispatched by agent/main.ts: `dvm-agent block-server` and
// `dvm-agent block-client`.
import { loadConfigFile } from '../../contract/agent-config.js';
import type { ResultEvent } from '../../contract/events.js';
import { writeTerminationLog } from '../progress/termination-log.js';
import { blockClientConfigSchema, blockServerConfigSchema, type BlockClientConfig } from './config.js';

/** Starts the block server; resolves once it listens. SIGTERM/SIGINT stop it. */
export async function blockServerCommand(configFile: string): Promise<void> {
  const config = loadConfigFile(blockServerConfigSchema, configFile);
  const { createLogger } = await import('../log.js');
  const { startBlockServer } = await import('./server.js');
  const log = createLogger('block-server', 1);
  const server = await startBlockServer(config, log);
  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    server.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** Runs one block copy; returns the process exit code. A config that cannot start still leaves a
 * result where the controller reads it. */
export async function blockClientCommand(configFile: string): Promise<number> {
  let config: BlockClientConfig | null = null;
  try {
    config = loadConfigFile(blockClientConfigSchema, configFile);
    const { createLogger } = await import('../log.js');
    const { runBlockClient } = await import('./client.js');
    const log = createLogger('block-client', 2);
    const abort = new AbortController();
    process.once('SIGTERM', () => abort.abort());
    process.once('SIGINT', () => abort.abort());
    return (await runBlockClient(config, log, abort.signal)).exitCode;
  } catch (error) {
    if (config) {
      const result: ResultEvent = {
        type: 'result',
        pvc: config.pvc,
        status: 'Failed',
        exitCode: 1,
        bytes: 0,
        files: 0,
        durationMs: 0,
        verified: null,
        attempts: 0,
        message: (error as Error).message,
      };
      process.stdout.write(`${JSON.stringify(result)}\n`);
      writeTerminationLog(config.terminationLog, result);
    }
    throw error;
  }
}
