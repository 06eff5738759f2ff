#!/usr/bin/env node
// dvm-agent: the one process in every transfer pod. `server` on the destination, `client` on the
// source (whose rsync reaches the tunnel through tunnel/rsync-entry.ts).
import { Command } from 'commander';
import { clientConfigSchema, loadConfigFile, serverConfigSchema, type ClientConfig } from './config.js';
import type { ResultEvent } from './progress/events.js';
import { writeTerminationLog } from './progress/termination-log.js';

/** Where a pod may point at its config instead of --config. */
const CONFIG_ENV = 'DVM_AGENT_CONFIG';

function configPath(option: string | undefined): string {
  const path = option ?? process.env[CONFIG_ENV];
  if (!path) throw new Error(`no config: pass --config FILE or set ${CONFIG_ENV}`);
  return path;
}

function fail(error: unknown): never {
  process.stderr.write(`dvm-agent: ${(error as Error).message}\n`);
  process.exit(1);
}

function reportSetupFailure(config: ClientConfig, message: string): void {
  const result: ResultEvent = {
    type: 'result', pvc: config.pvc, status: 'Failed', exitCode: 1, bytes: 0, files: 0,
    durationMs: 0, verified: null, attempts: 0, message,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  writeTerminationLog(config.terminationLog, result);
}

const program = new Command('dvm-agent')
  .description('dvm transfer agent: rsync inside a mutually-authenticated TLS tunnel')
  .showHelpAfterError();

program.command('server')
  .description('destination side: accept tunnel connections and run an rsync daemon for each')
  .option('-c, --config <file>', `agent config (JSON or YAML); default $${CONFIG_ENV}`)
  .action(async (options: { config?: string }) => {
    try {
      const config = loadConfigFile(serverConfigSchema, configPath(options.config));
      const { createLogger } = await import('./log.js');
      const { startServer } = await import('./server.js');
      const log = createLogger('server', 1);
      const server = await startServer(config, log);
      const stop = (signal: string): void => {
        log.info({ signal }, 'stopping');
        server.close().finally(() => process.exit(0));
        setTimeout(() => process.exit(0), 3_000).unref();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    } catch (error) {
      fail(error);
    }
  });

program.command('client')
  .description('source side: copy one volume through the tunnel and report progress')
  .option('-c, --config <file>', `agent config (JSON or YAML); default $${CONFIG_ENV}`)
  .action(async (options: { config?: string }) => {
    let config: ClientConfig | null = null;
    try {
      const path = configPath(options.config);
      config = loadConfigFile(clientConfigSchema, path);
      const { createLogger } = await import('./log.js');
      const { runClient } = await import('./client.js');
      const log = createLogger('client', 2);
      const abort = new AbortController();
      process.once('SIGTERM', () => abort.abort());
      process.once('SIGINT', () => abort.abort());
      const { exitCode } = await runClient(config, log, abort.signal);
      process.exit(exitCode);
    } catch (error) {
      // Whoever waits for a result (the controller reads the termination message) gets one even
      // when the copy never started.
      if (config) reportSetupFailure(config, (error as Error).message);
      fail(error);
    }
  });

program.parseAsync().catch(fail);
