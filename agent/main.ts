#!/usr/bin/env node
// dvm-agent: the one process in every transfer pod. `server` on the destination, `client` on the
// source (whose rsync reaches the tunnel through tunnel/rsync-entry.ts).
import { Socket } from 'node:net';
import { Command } from 'commander';
import { clientConfigSchema, loadConfigFile, serverConfigSchema, type ClientConfig } from '../contract/agent-config.js';
import { reportSetupFailure } from './progress/result.js';

/** Where a pod may point at its config instead of --config. */
const CONFIG_ENV = 'DVM_AGENT_CONFIG';

function configPath(option: string | undefined): string {
  const path = option ?? process.env[CONFIG_ENV];
  if (!path) throw new Error(`no config: pass --config FILE or set ${CONFIG_ENV}`);
  return path;
}

/** --parent-pipe FD: an inherited pipe whose other end only the parent holds (local mode). Its end
 * of file means the parent is gone, however it died (kill -9 included): Node has no
 * PR_SET_PDEATHSIG, and an agent that outlives `dvm migrate --local` would keep serving the run's
 * certificate. The pipe never keeps the agent alive by itself. */
function watchParentPipe(option: string | undefined, onGone: () => void): void {
  if (option === undefined) return;
  const fd = Number(option);
  if (!Number.isInteger(fd) || fd < 3) throw new Error(`--parent-pipe: "${option}" is not a file descriptor number above 2`);
  let pipe: Socket;
  try {
    pipe = new Socket({ fd, readable: true, writable: false });
  } catch (error) {
    throw new Error(`--parent-pipe: file descriptor ${fd} is not an open pipe (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let gone = false;
  const parentGone = (): void => {
    if (gone) return;
    gone = true;
    onGone();
  };
  pipe.on('data', () => undefined);
  pipe.once('end', parentGone);
  pipe.once('close', parentGone);
  pipe.once('error', parentGone);
  pipe.unref();
}

/** Exit at the latest this long after the parent went away, whatever is still closing. */
const PARENT_GONE_EXIT_MS = 3_000;

/** Once the parent is gone nobody reads our stdout and stderr (pipes to it): a write fails with
 * EPIPE, which must not turn the orderly stop into a crash that skips the clean-up. */
async function ignoreOutputErrors(log: object): Promise<void> {
  const ignore = (): void => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  // pino is loaded already (log.js); its destination is a stream of its own.
  const { default: pino } = await import('pino');
  const destination = (log as Record<symbol, unknown>)[pino.symbols.streamSym] as { on?: (event: string, listener: () => void) => void } | undefined;
  destination?.on?.('error', ignore);
}

function fail(error: unknown): never {
  process.stderr.write(`dvm-agent: ${(error as Error).message}\n`);
  process.exit(1);
}

const program = new Command('dvm-agent').description('dvm transfer agent: rsync inside a mutually-authenticated TLS tunnel').showHelpAfterError();

program
  .command('server')
  .description('destination side: accept tunnel connections and run an rsync daemon for each')
  .option('-c, --config <file>', `agent config (JSON or YAML); default $${CONFIG_ENV}`)
  .option('--parent-pipe <fd>', 'exit when this inherited pipe reaches end of file: its parent is gone (local mode)')
  .action(async (options: { config?: string; parentPipe?: string }) => {
    try {
      const config = loadConfigFile(serverConfigSchema, configPath(options.config));
      const { createLogger } = await import('./log.js');
      const { startServer } = await import('./server.js');
      const log = createLogger('server', 1);
      let stop: ((why: string) => void) | null = null;
      let parentGone = false;
      // Watched from the start: a parent that dies while we start up must not leave us listening.
      watchParentPipe(options.parentPipe, () => {
        parentGone = true;
        void ignoreOutputErrors(log).finally(() => (stop ? stop('parent gone') : process.exit(0)));
      });
      const server = await startServer(config, log);
      stop = (signal: string): void => {
        log.info({ signal }, 'stopping');
        server.close().finally(() => process.exit(0));
        setTimeout(() => process.exit(0), PARENT_GONE_EXIT_MS).unref();
      };
      process.once('SIGTERM', () => stop?.('SIGTERM'));
      process.once('SIGINT', () => stop?.('SIGINT'));
      if (parentGone) stop('parent gone');
    } catch (error) {
      fail(error);
    }
  });

program
  .command('client')
  .description('source side: copy one volume through the tunnel and report progress')
  .option('-c, --config <file>', `agent config (JSON or YAML); default $${CONFIG_ENV}`)
  .option('--parent-pipe <fd>', 'exit when this inherited pipe reaches end of file: its parent is gone (local mode)')
  .action(async (options: { config?: string; parentPipe?: string }) => {
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
      watchParentPipe(options.parentPipe, () => {
        setTimeout(() => process.exit(130), PARENT_GONE_EXIT_MS).unref();
        void ignoreOutputErrors(log).finally(() => {
          log.warn('parent gone, stopping');
          abort.abort();
        });
      });
      const { exitCode } = await runClient(config, log, abort.signal);
      process.exit(exitCode);
    } catch (error) {
      // Whoever waits for a result (the controller reads the termination message) gets one even
      // when the copy never started.
      if (config) reportSetupFailure(config.pvc, config.terminationLog, (error as Error).message);
      fail(error);
    }
  });

// Block volumes (agent/block/, docs/block.md): the same tunnel, a block-hash protocol instead of rsync.
program
  .command('block-server')
  .description('destination side of a block volume: write the devices of its config, only the blocks that differ')
  .option('-c, --config <file>', `block server config (JSON or YAML); default $${CONFIG_ENV}`)
  .action(async (options: { config?: string }) => {
    try {
      const { blockServerCommand } = await import('./block/cli.js');
      await blockServerCommand(configPath(options.config));
    } catch (error) {
      fail(error);
    }
  });

program
  .command('block-client')
  .description('source side of a block volume: send one device through the tunnel and report progress')
  .option('-c, --config <file>', `block client config (JSON or YAML); default $${CONFIG_ENV}`)
  .action(async (options: { config?: string }) => {
    try {
      const { blockClientCommand } = await import('./block/cli.js');
      process.exit(await blockClientCommand(configPath(options.config)));
    } catch (error) {
      fail(error);
    }
  });

program.parseAsync().catch(fail);
