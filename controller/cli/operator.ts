// `dvm controller`: the long-running reconciler of DirectVolumeMigration resources
// (controller/operator/), from a laptop with a kubeconfig or in a cluster (deploy/).
//   --kubeconfig, --context        the cluster (default $KUBECONFIG, ~/.kube/config, else in-cluster)
//   --settings FILE                a MigrationController CR (or its spec): every migration's settings
//   --namespace NS                 watch one namespace (default: all)
//   --lease-namespace, --lease-name, --identity, --lease-duration, --renew-deadline, --retry-period
//   --listen HOST:PORT             progress page, websocket API and /metrics over every run
//   --token / --token-file / $DVM_TOKEN   bearer token for --listen (required off loopback)
//   --progress-interval SECONDS    at most one status write per DVMP (and per DVM) this often (2)
// Logs are JSON lines (pino) on stderr. SIGINT/SIGTERM: stop watching, give the Lease up, exit 0
// (the runs' pods stay; the next leader resumes). Losing the Lease: exit 1 at once.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { loadSettings } from '../config/load.js';
import { EXIT_BAD_INPUT, EXIT_FAILED, checkProgressListen } from './cluster.js';
import { resolveSecret, TOKEN_ENV } from './secrets.js';

interface ControllerFlags {
  kubeconfig?: string;
  context?: string;
  settings?: string;
  namespace?: string;
  leaseNamespace?: string;
  leaseName: string;
  identity?: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  listen?: string;
  token?: string;
  tokenFile?: string;
  progressInterval: string;
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function seconds(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new ConfigError(`${flag}: must be a positive number of seconds (got ${value})`);
  return parsed * 1000;
}

/** The Lease lives in the controller's own namespace: the one named, the pod's, else (undefined)
 * the kubeconfig context's. */
function leaseNamespace(flag: string | undefined): string | undefined {
  if (flag) return flag;
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description('reconcile DirectVolumeMigration resources until stopped (leader-elected; see docs/operator.md)')
    .option('--kubeconfig <file>', 'kubeconfig (default $KUBECONFIG, ~/.kube/config, else in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: current)')
    .option('--settings <file>', 'a MigrationController CR (or its spec): the settings of every migration')
    .option('--namespace <ns>', 'watch DirectVolumeMigrations in this namespace only (default: all)')
    .option('--lease-namespace <ns>', "namespace of the leader-election Lease (default $POD_NAMESPACE, the pod's, else the kubeconfig context's)")
    .option('--lease-name <name>', 'name of the Lease', 'dvm-controller')
    .option('--identity <id>', 'this process in the Lease (default: host name, pid and a random suffix)')
    .option('--lease-duration <seconds>', 'how long a silent leader keeps the Lease', '15')
    .option('--renew-deadline <seconds>', 'how long a leader tries to renew before it gives up', '10')
    .option('--retry-period <seconds>', 'how often to renew or try to acquire', '2')
    .option('--listen <host:port>', 'serve the progress page, websocket API and /metrics')
    .option('--token <token>', 'bearer token for --listen (other users see it in ps: prefer --token-file or $DVM_TOKEN)')
    .option('--token-file <file>', 'read the bearer token from this file')
    .option('--progress-interval <seconds>', 'at most one status write per progress resource (and per migration) this often', '2')
    .action(async (flags: ControllerFlags) => {
      try {
        await runController(flags);
      } catch (error) {
        process.stderr.write(`dvm: ${(error as Error).message}\n`);
        process.exit(error instanceof ConfigError ? EXIT_BAD_INPUT : EXIT_FAILED);
      }
    });
}

async function runController(flags: ControllerFlags): Promise<void> {
  const settings = loadSettings(flags.settings);
  const token = resolveSecret({ flag: '--token', flagValue: flags.token, fileFlag: '--token-file', file: flags.tokenFile, envName: TOKEN_ENV })?.value;
  checkProgressListen(flags.listen, token);
  const lease = {
    namespace: leaseNamespace(flags.leaseNamespace),
    name: flags.leaseName,
    identity: flags.identity ?? `${hostname()}_${process.pid}_${randomBytes(3).toString('hex')}`,
    durationMs: seconds(flags.leaseDuration, '--lease-duration'),
    renewDeadlineMs: seconds(flags.renewDeadline, '--renew-deadline'),
    retryPeriodMs: seconds(flags.retryPeriod, '--retry-period'),
  };
  if (lease.renewDeadlineMs >= lease.durationMs) throw new ConfigError('--renew-deadline: must be shorter than --lease-duration');
  const interval = seconds(flags.progressInterval, '--progress-interval');
  const { default: pino } = await import('pino');
  const log = pino(
    { level: process.env.DVM_LOG_LEVEL ?? 'info', base: { role: 'dvm-controller', identity: lease.identity } },
    pino.destination({ fd: 2, sync: true }),
  );
  const { startController } = await import('../operator/controller.js');
  const controller = await startController({
    cluster: { ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}) },
    settings,
    ...(flags.namespace ? { watchNamespace: flags.namespace } : {}),
    lease,
    ...(flags.listen ? { listen: flags.listen } : {}),
    ...(token ? { token } : {}),
    progressIntervalMs: interval,
    statusIntervalMs: interval,
    log,
    onLostLeadership: () => process.exit(EXIT_FAILED),
  });
  if (controller.progressUrl) process.stderr.write(`progress: ${controller.progressUrl}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.info('stopping');
      controller.stop().finally(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // The runs' streams and timers would keep the process alive; they belong to the next leader now.
  process.exit(0);
}
