// The block copier's two commands, dispatched by agent/main.ts: `dvm-agent block-server` and
// `dvm-agent block-client`.
import { loadConfigFile } from '../../contract/agent-config.js';
import { reportSetupFailure } from '../progress/result.js';
import { blockClientConfigSchema, blockServerConfigSchema, type BlockClientConfig } from '../../contract/block-config.js';

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
      reportSetupFailure(config.pvc, config.terminationLog, (error as Error).message);
    }
    throw error;
  }
}
