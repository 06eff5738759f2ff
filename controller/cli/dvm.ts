#!/usr/bin/env node
// dvm: the command people and scripts run. A thin shell over the controller library.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/errors.js';
import { writeSampleTree } from '../local/sample-tree.js';
import { EXIT_BAD_INPUT, EXIT_FAILED, registerClusterCommands, runClusterMigration, type ClusterMigrationOptions } from './cluster.js';
import { migrateLocal, type LocalCommandFlags } from './migrate-local.js';
import { registerControllerCommand } from './operator.js';
import { resolveCliSecrets } from './secrets.js';

type MigrateFlags = LocalCommandFlags & Omit<ClusterMigrationOptions, 'noProxyFor'> & { local?: boolean; bypassProxy?: string };

/** One line, and the exit code: bad input (a ConfigError) is 2 in every command, as the cluster
 * migrate's; anything else 1. */
function report(error: unknown): number {
  process.stderr.write(`dvm: ${(error as Error).message}\n`);
  return error instanceof ConfigError ? EXIT_BAD_INPUT : EXIT_FAILED;
}

function fail(error: unknown): never {
  process.exit(report(error));
}

const program = new Command('dvm')
  .description('Direct Volume Migration: copy PVC data between clusters with rsync inside mutual TLS')
  .showHelpAfterError()
  // commander's own errors (unknown option or command, missing argument) are bad input too: exit 2,
  // not its default 1. --help and --version stay 0. Set before the commands, which inherit it.
  .exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? 0 : EXIT_BAD_INPUT));

program
  .command('migrate')
  .description('migrate volumes: --local SRC DST on this machine, or -f spec.yaml between two clusters')
  .argument('[SRC]', 'with --local: the source directory')
  .argument('[DST]', 'with --local: the destination directory (created if missing)')
  .option('--local', 'run both agents on this machine (no cluster)')
  .option('-f, --filename <file>', 'a DirectVolumeMigration CR (or its spec): which PVCs go where')
  .option('--settings <file>', 'a MigrationController CR (or its spec); flags override it')
  .option('--source-kubeconfig <file>', 'kubeconfig of the source cluster (default $KUBECONFIG, ~/.kube/config)')
  .option('--source-context <name>', 'context of the source cluster (default: current)')
  .option('--destination-kubeconfig <file>', 'kubeconfig of the destination cluster')
  .option('--destination-context <name>', 'context of the destination cluster')
  .option('--endpoint-type <type>', 'rsync_endpoint_type: Route, NodePort, ClusterIP or LoadBalancer')
  .option('--network-policies', 'create allow-ingress/allow-egress NetworkPolicies for the rsync pods')
  .option('--run-id <id>', 'label value for directvolumemigration= (default: the CR uid, else random)')
  .option('--proxy <url>', 'stunnel_tcp_proxy: http://user:pass@host:port (other users see it in ps: prefer --proxy-file or $DVM_PROXY)')
  .option('--proxy-file <file>', 'read the proxy URL from this file (default: $DVM_PROXY)')
  .option('--bypass-proxy <list>', 'noProxy (also spelled --no-proxy): hosts, .domains, IPs, CIDRs or * that bypass the proxy')
  .option('--bwlimit <KiB/s>', 'rsync_opt_bwlimit')
  .option('--retries <n>', 'rsync_backoff_limit')
  .option('--rsync-extras <args>', 'rsync_opt_extras (checked against a list of safe options)')
  .option('--verify', 'checksum-compare source and destination after the copy')
  .option('--progress-listen <host:port>', "also serve the client agent's /progress websocket")
  .option('--listen <host:port>', 'serve the progress page, websocket API and /metrics')
  .option('--token <token>', 'bearer token for --listen (required off loopback; other users see it in ps: prefer --token-file or $DVM_TOKEN)')
  .option('--token-file <file>', 'read the bearer token from this file (default: $DVM_TOKEN)')
  .option('--json', 'print progress events as JSON lines on stdout')
  .action(async (source: string | undefined, destination: string | undefined, flags: MigrateFlags) => {
    try {
      const { bypassProxy, local, ...rest } = flags;
      if (local) {
        process.exitCode = await migrateLocal(source, destination, { ...rest, ...(bypassProxy !== undefined ? { noProxy: bypassProxy } : {}) });
        return;
      }
      if (source !== undefined) fail(new ConfigError('SRC and DST go with --local; between clusters use -f spec.yaml'));
      if (!flags.filename) fail(new ConfigError('say what to migrate: --local SRC DST, or -f spec.yaml'));
      const { proxyFile, tokenFile, proxy: _proxy, token: _token, ...others } = rest;
      const { proxy, token } = resolveCliSecrets({ ...rest, proxyFile, tokenFile });
      process.exitCode = await runClusterMigration({
        ...others,
        ...(proxy ? { proxy: proxy.value } : {}),
        ...(token ? { token } : {}),
        ...(bypassProxy !== undefined ? { noProxyFor: bypassProxy } : {}),
      });
    } catch (error) {
      fail(error);
    }
  });

registerClusterCommands(program);
registerControllerCommand(program);

program
  .command('demo')
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
      // Not fail(): process.exit would skip the clean-up below.
      process.exitCode = report(error);
    } finally {
      if (options.keep) process.stderr.write(`demo: kept ${root}\n`);
      else rmSync(root, { recursive: true, force: true });
    }
  });

// Commander reads any --no-X as "negate --X", but noProxy's flag is spelled --no-proxy LIST.
const argv = process.argv.map((arg) => arg.replace(/^--no-proxy(?==|$)/, '--bypass-proxy'));
program.parseAsync(argv).catch(fail);
