// The cluster half of the dvm CLI: `migrate` without --local (runClusterMigration, called by
// migrate.ts), and the `render`, `cleanup` and `status` commands (registerClusterCommands).
//
// runClusterMigration options (the flags of `dvm migrate -f ...`):
//   -f, --filename <file>              spec: a DirectVolumeMigration CR or just its spec (required)
//   --settings <file>                  a MigrationController CR (or its spec); flags below override it
//   --source-kubeconfig <file>         kubeconfig of the source cluster (default: $KUBECONFIG, ~/.kube/config)
//   --source-context <name>            context in it (default: its current context)
//   --destination-kubeconfig <file>    same for the destination cluster
//   --destination-context <name>
//   --json                             agent events, then the summaries, as JSON lines on stdout
//   --listen <host:port>               serve the progress page, websocket API and /metrics
//   --token <token>                    bearer token for --listen (required off loopback)
//   --network-policies                 create allow-ingress/allow-egress NetworkPolicies (rsync_network_policies)
//   --endpoint-type <type>             rsync_endpoint_type: Route, NodePort, ClusterIP or LoadBalancer
//   --proxy <url>                      stunnel_tcp_proxy; --no-proxy-for <list>: noProxy
//   --run-id <id>                      label value for directvolumemigration= (default: CR uid, else random)
// Exit codes: 0 all PVCs migrated, 1 a PVC or the run failed, 2 bad input (nothing created),
// 130 interrupted (SIGINT/SIGTERM; the run's objects are removed first).
import { writeFileSync } from 'node:fs';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { ConfigError } from '../config/errors.js';
import { loadSettings, loadSpecFile } from '../config/load.js';
import { labelSafeRunId, newRunId } from '../config/run-id.js';
import type { ClusterRefs } from '../index.js';
import { renderRun } from '../manifests/render.js';
import { assertListenAllowed } from '../progress/access.js';
import type { ControllerEvent, MigrationResult } from '../migration/events.js';

// The Kubernetes client and the progress server are loaded when a command needs them: `dvm render`
// and `dvm migrate --local` start faster without them.
const controller = () => import('../index.js');

export interface ClusterMigrationOptions {
  filename?: string;
  settings?: string;
  sourceKubeconfig?: string;
  sourceContext?: string;
  destinationKubeconfig?: string;
  destinationContext?: string;
  json?: boolean;
  listen?: string;
  token?: string;
  networkPolicies?: boolean;
  endpointType?: string;
  proxy?: string;
  noProxyFor?: string;
  runId?: string;
  /** Tests pass their own; otherwise SIGINT/SIGTERM abort the run. */
  signal?: AbortSignal;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERRUPTED = 130;

/** --listen / --token are bad input (exit 2) when the progress server would refuse them: checked
 * before anything starts. */
export function checkProgressListen(listen: string | undefined, token: string | undefined): void {
  if (listen === undefined) return;
  try {
    assertListenAllowed(listen.slice(0, listen.lastIndexOf(':')), token, listen);
  } catch (error) {
    throw new ConfigError(`--listen: ${(error as Error).message}`);
  }
}

function clusterRefs(options: ClusterMigrationOptions): ClusterRefs {
  const ref = (kubeconfig?: string, context?: string) => ({ ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}) });
  return { source: ref(options.sourceKubeconfig, options.sourceContext), destination: ref(options.destinationKubeconfig, options.destinationContext) };
}

function settingsOverrides(options: ClusterMigrationOptions): Record<string, unknown> {
  return {
    rsync_network_policies: options.networkPolicies ? true : undefined,
    rsync_endpoint_type: options.endpointType,
    stunnel_tcp_proxy: options.proxy,
    noProxy: options.noProxyFor,
  };
}

export async function runClusterMigration(options: ClusterMigrationOptions): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const abort = new AbortController();
  let interrupts = 0;
  const interrupt = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    stderr.write("dvm: interrupted, removing the run's objects from both clusters (interrupt again to quit at once)\n");
    abort.abort();
  };
  if (options.signal) options.signal.addEventListener('abort', () => abort.abort(), { once: true });
  else {
    process.on('SIGINT', interrupt);
    process.on('SIGTERM', interrupt);
  }
  let outputs: { stop(): Promise<void> } | undefined;
  try {
    if (!options.filename) throw new ConfigError('-f/--filename: a spec file is required');
    const loaded = loadSpecFile(options.filename);
    const settings = loadSettings(options.settings, settingsOverrides(options));
    const requestedRunId = options.runId ?? loaded.suggestedRunId;
    const runId = requestedRunId !== undefined ? labelSafeRunId(requestedRunId) : undefined;
    checkProgressListen(options.listen, options.token);
    const { connectClusters, startMigration } = await controller();
    const { startProgressOutputs } = await import('../progress/outputs.js');
    const clusters = connectClusters(clusterRefs(options));
    const { default: pino } = await import('pino');
    // Logs go to stderr (stdout carries --json); quiet unless DVM_LOG_LEVEL asks for more.
    const log = pino({ level: process.env.DVM_LOG_LEVEL ?? 'warn', base: { role: 'controller' } }, pino.destination({ fd: 2, sync: true }));
    const run = startMigration({ spec: loaded.spec, settings, clusters, signal: abort.signal, log, ...(runId ? { runId } : {}) });
    // The run's lines wait until the progress outputs are up: when the listener cannot start, the run
    // is cancelled and the one line the user sees is the listener's error.
    const held: string[] = [];
    let say = (line: string) => void held.push(line);
    run.onEvent((event: ControllerEvent) => {
      // Preflight is silent: bad input must read as exactly one line.
      if (event.type === 'phase' && event.phase !== 'preflight') say(`dvm: ${event.message}\n`);
      else if (event.type === 'pod' && event.state === 'lost') say(`dvm: ${event.pvc}: ${event.message}\n`);
    });
    try {
      outputs = await startProgressOutputs(run.progress, {
        json: options.json === true,
        stdout,
        stderr,
        ...(options.listen ? { listen: options.listen } : {}),
        ...(options.token ? { token: options.token } : {}),
      });
    } catch (error) {
      run.cancel();
      await run.result.catch(() => undefined);
      throw error;
    }
    say = (line) => void stderr.write(line);
    held.splice(0).forEach(say);
    const result = await run.result;
    await outputs.stop();
    printResult(result, options.json === true, stdout);
    if (result.status === 'Aborted') return EXIT_INTERRUPTED;
    return result.status === 'Succeeded' ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    stderr.write(`dvm: ${(error as Error).message}\n`);
    return error instanceof ConfigError ? EXIT_BAD_INPUT : EXIT_FAILED;
  } finally {
    await outputs?.stop();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

function printResult(result: MigrationResult, json: boolean, stdout: NodeJS.WritableStream): void {
  if (json) {
    stdout.write(`${JSON.stringify({ type: 'migration-result', ...result })}\n`);
    return;
  }
  const lines = [`run ${result.runId}: ${result.status} — ${result.message}`];
  for (const pvc of result.pvcs) {
    lines.push(
      `  ${pvc.pvc} -> ${pvc.target}: ${pvc.status}, ${(pvc.bytes / 2 ** 20).toFixed(1)} MiB, ${(pvc.durationMs / 1000).toFixed(1)} s, ` +
        `${pvc.attempts} attempt(s) in ${pvc.podAttempts} pod(s), verified ${pvc.verified === null ? 'n/a' : pvc.verified}, ${pvc.apiWrites} API writes` +
        `${pvc.status === 'Failed' ? ` — ${pvc.message}` : ''}`,
    );
  }
  lines.push(
    `  API writes: ${result.apiWrites.total} (${result.apiWrites.shared} shared); cleanup removed ${result.cleanup.source} source and ${result.cleanup.destination} destination object(s)`,
  );
  stdout.write(`${lines.join('\n')}\n`);
}

interface ClusterFlags {
  sourceKubeconfig?: string;
  sourceContext?: string;
  destinationKubeconfig?: string;
  destinationContext?: string;
}

function withClusterFlags(command: Command): Command {
  return command
    .option('--source-kubeconfig <file>', 'kubeconfig of the source cluster')
    .option('--source-context <name>', 'context of the source cluster')
    .option('--destination-kubeconfig <file>', 'kubeconfig of the destination cluster')
    .option('--destination-context <name>', 'context of the destination cluster');
}

async function guarded(action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (error) {
    process.stderr.write(`dvm: ${(error as Error).message}\n`);
    process.exitCode = error instanceof ConfigError ? EXIT_BAD_INPUT : EXIT_FAILED;
  }
}

export function registerClusterCommands(program: Command): void {
  program
    .command('render')
    .description('print every object a migration would create, without touching a cluster')
    .requiredOption('-f, --filename <file>', 'spec: a DirectVolumeMigration CR or its spec')
    .option('--settings <file>', 'a MigrationController CR or its spec')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .option('--run-id <id>', 'run id to render with')
    .option('--network-policies', 'include the NetworkPolicies')
    .option('--endpoint-type <type>', 'rsync_endpoint_type')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((flags: { filename: string; settings?: string; output: string; runId?: string; networkPolicies?: boolean; endpointType?: string; out?: string }) =>
      guarded(async () => {
        if (flags.output !== 'yaml' && flags.output !== 'json') throw new ConfigError(`-o/--output: must be yaml or json (got ${flags.output})`);
        const loaded = loadSpecFile(flags.filename);
        const settings = loadSettings(
          flags.settings,
          settingsOverrides({
            ...(flags.networkPolicies ? { networkPolicies: true } : {}),
            ...(flags.endpointType ? { endpointType: flags.endpointType } : {}),
          }),
        );
        const rendered = renderRun({ spec: loaded.spec, settings, runId: labelSafeRunId(flags.runId ?? loaded.suggestedRunId ?? newRunId()) });
        const text =
          flags.output === 'json'
            ? `${JSON.stringify({ destination: asList(rendered.destination), source: asList(rendered.source) }, null, 2)}\n`
            : [
                ...rendered.destination.map((item) => `# cluster: destination\n${toYaml(item)}`),
                ...rendered.source.map((item) => `# cluster: source\n${toYaml(item)}`),
              ].join('---\n');
        if (flags.out) writeFileSync(flags.out, text);
        else process.stdout.write(text);
        process.stderr.write('dvm render: destination PVCs (sized from the source PVCs) and run-time addresses and keys are filled in by migrate\n');
        return EXIT_OK;
      }),
    );

  withClusterFlags(program.command('cleanup'))
    .description('delete every object labelled with a run on both clusters, and wait until gone')
    .requiredOption('--run <id>', 'the run id (label directvolumemigration=<id>)')
    .action((flags: ClusterFlags & { run: string }) =>
      guarded(async () => {
        const { cleanup, connectClusters } = await controller();
        const counts = await cleanup(connectClusters(clusterRefs(flags)), labelSafeRunId(flags.run));
        process.stdout.write(`deleted ${counts.source} source and ${counts.destination} destination object(s) of run ${flags.run}\n`);
        return EXIT_OK;
      }),
    );

  withClusterFlags(program.command('status'))
    .description('list the objects of a run (or of every run) on both clusters')
    .option('--run <id>', 'the run id; every dvm object when omitted')
    .option('--json', 'as JSON')
    .action((flags: ClusterFlags & { run?: string; json?: boolean }) =>
      guarded(async () => {
        const { status, connectClusters } = await controller();
        const found = await status(connectClusters(clusterRefs(flags)), flags.run !== undefined ? labelSafeRunId(flags.run) : undefined);
        if (flags.json) process.stdout.write(`${JSON.stringify(found)}\n`);
        else {
          const sides = found.sameCluster ? (['source'] as const) : (['source', 'destination'] as const);
          for (const side of sides) {
            const label = found.sameCluster ? 'source and destination (one cluster)' : side;
            process.stdout.write(`${label}: ${found[side].length} object(s)\n`);
            for (const object of found[side]) process.stdout.write(`  ${object.kind} ${object.namespace}/${object.name}\n`);
          }
        }
        return EXIT_OK;
      }),
    );
}

function asList(items: KubernetesObject[]): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'List', items };
}
