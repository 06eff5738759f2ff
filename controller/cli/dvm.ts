#!/usr/bin/env node
// dvm: the command people and scripts run. A thin shell over the controller library.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { writeSampleTree } from '../local/sample-tree.js';
import { migrateLocal, type LocalCommandFlags } from './migrate-local.js';

function fail(error: unknown): never {
  process.stderr.write(`dvm: ${(error as Error).message}\n`);
  process.exit(1);
}

const program = new Command('dvm')
  .description('Direct Volume Migration: copy PVC data between clusters with rsync inside mutual TLS')
  .showHelpAfterError();

program.command('migrate')
  .description('migrate volumes: --local SRC DST on this machine, or -f spec.yaml between two clusters')
  .argument('[SRC]', 'with --local: the source directory')
  .argument('[DST]', 'with --local: the destination directory (created if missing)')
  .option('--local', 'run both agents on this machine (no cluster)')
  .option('--proxy <url>', 'stunnel_tcp_proxy: http://user:pass@host:port')
  .option('--bypass-proxy <list>', 'noProxy (also spelled --no-proxy): hosts, .domains, IPs, CIDRs or * that bypass the proxy')
  .option('--bwlimit <KiB/s>', 'rsync_opt_bwlimit')
  .option('--retries <n>', 'rsync_backoff_limit')
  .option('--rsync-extras <args>', 'rsync_opt_extras (checked against a list of safe options)')
  .option('--verify', 'checksum-compare source and destination after the copy')
  .option('--progress-listen <host:port>', "also serve the client agent's /progress websocket")
  .option('--listen <host:port>', 'serve the progress page, websocket API and /metrics')
  .option('--token <token>', 'bearer token for --listen (required off loopback)')
  .option('--json', 'print progress events as JSON lines on stdout')
  .action(async (source: string | undefined, destination: string | undefined, flags: LocalCommandFlags & { local?: boolean; bypassProxy?: string }) => {
    try {
      if (!flags.local) fail(new Error('only --local is available in this build: dvm migrate --local SRC DST'));
      const { bypassProxy, ...rest } = flags;
      process.exitCode = await migrateLocal(source, destination, { ...rest, ...(bypassProxy !== undefined ? { noProxy: bypassProxy } : {}) });
    } catch (error) {
      fail(error);
    }
  });

program.command('demo')
  .description('generate a sample tree and migrate it locally (a real rsync-over-mTLS copy)')
  .option('--keep', 'keep the sample source and destination')
  .action(async (options: { keep?: boolean }) => {
    const root = mkdtempSync(join(tmpdir(), 'dvm-demo-'));
    try {
      const source = join(root, 'source');
      writeSampleTree(source);
      process.stderr.write(`demo: migrating ${source} -> ${join(root, 'destination')}\n`);
      process.exitCode = await migrateLocal(source, join(root, 'destination'), { verify: true });
    } catch (error) {
      fail(error);
    } finally {
      if (options.keep) process.stderr.write(`demo: kept ${root}\n`);
      else rmSync(root, { recursive: true, force: true });
    }
  });

// Commander reads any --no-X as "negate --X", but noProxy's flag is spelled --no-proxy LIST.
const argv = process.argv.map((arg) => arg.replace(/^--no-proxy(?==|$)/, '--bypass-proxy'));
program.parseAsync(argv).catch(fail);
