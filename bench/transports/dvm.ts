// dvm itself: the agent server (TLS listener spawning `rsync --server --daemon` per connection) and
// the agent client (rsync through the tunnel), configured through contract/agent-config.ts like the pods.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientConfigSchema, describeZodError, serverConfigSchema } from '../../contract/agent-config.js';
import { AGENT_BUNDLE_FILE, AGENT_NODE_FLAGS } from '../../contract/node-flags.js';
import { freeLoopbackPort } from '../processes/free-port.js';
import { runToEnd } from '../processes/run-to-end.js';
import { startService } from '../processes/service.js';
import { BENCH_MODULE } from '../rsync/daemon-config.js';
import type { CopyDetails, Transport } from '../transport.js';

/** dist/bench/transports/dvm.js -> dist/agent/dvm-agent.js: the agent in one file, as pods run it (agent/bundle.sh). */
export const AGENT_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../agent', AGENT_BUNDLE_FILE);

export interface DvmVariant {
  name: string;
  description: string;
  /** Keys merged into the client / server config (a connect-mode switch, a tuning knob). */
  clientConfig?: Record<string, unknown>;
  serverConfig?: Record<string, unknown>;
  /** Extra environment for both agents, e.g. NODE_OPTIONS=--tls-cipher-list=... */
  env?: NodeJS.ProcessEnv;
  /** Node flags of both agents; default: the pods' own (contract/node-flags.ts). */
  nodeFlags?: readonly string[];
  /** Another build's agent (an earlier commit), to compare builds in one run. */
  agentMain?: string;
}

/** The agent's own duration from its result event: the wall time minus startup and shutdown. */
function agentDetails(terminationLog: string): CopyDetails | undefined {
  try {
    const result = JSON.parse(readFileSync(terminationLog, 'utf8')) as { durationMs?: unknown };
    return typeof result.durationMs === 'number' ? { agentDurationMs: result.durationMs } : undefined;
  } catch {
    return undefined;
  }
}

function writeValidated(file: string, config: Record<string, unknown>, schema: typeof serverConfigSchema | typeof clientConfigSchema): void {
  const parsed = schema.safeParse(config);
  if (!parsed.success) throw new Error(describeZodError(parsed.error, `bench agent config ${file}: `));
  // The raw object, not the parsed one: defaults stay the agent's, variant keys reach it as written.
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
}

export function makeDvmTransport(variant: DvmVariant): Transport {
  const agentMain = variant.agentMain ?? AGENT_MAIN;
  return {
    name: variant.name,
    description: variant.description,
    unavailable: () => (existsSync(agentMain) ? undefined : `${agentMain} not built yet (make build)`),
    async prepare(context) {
      const env = { ...process.env, ...variant.env };
      const node = [...(variant.nodeFlags ?? AGENT_NODE_FLAGS), agentMain];
      const port = await freeLoopbackPort();
      const serverWorkDir = join(context.workDir, 'server');
      mkdirSync(serverWorkDir, { recursive: true });
      const serverConfigFile = join(context.workDir, 'server.json');
      writeValidated(
        serverConfigFile,
        {
          listen: `127.0.0.1:${port}`,
          healthListen: `127.0.0.1:${await freeLoopbackPort()}`,
          tls: context.pki.server,
          modules: [{ name: BENCH_MODULE, path: context.destDir, client: context.pki.clientIdentity }],
          workDir: serverWorkDir,
          ...variant.serverConfig,
        },
        serverConfigSchema,
      );
      const server = await startService({
        name: 'dvm agent server',
        ...context.charge('server', process.execPath, [...node, 'server', '--config', serverConfigFile]),
        env,
        logFile: join(context.workDir, 'server.log'),
        ready: { kind: 'log', pattern: /"msg":"listening"/ },
      });
      const listeningPort = Number(server.match(/"msg":"listening"[^\n]*?"port":(\d+)/) ?? server.match(/"port":(\d+)[^\n]*"msg":"listening"/) ?? port);

      const clientConfigFile = join(context.workDir, 'client.json');
      const terminationLog = join(context.workDir, 'termination-log');
      writeValidated(
        clientConfigFile,
        {
          pvc: 'bench/data',
          server: { host: '127.0.0.1', port: listeningPort, serverName: context.pki.serverName },
          tls: context.pki.client,
          module: BENCH_MODULE,
          source: context.sourceDir,
          terminationLog,
          ...variant.clientConfig,
        },
        clientConfigSchema,
      );

      return {
        processes: [{ pid: server.pid, side: 'server' }],
        async copy(logFile) {
          rmSync(terminationLog, { force: true });
          await runToEnd({ ...context.charge('client', process.execPath, [...node, 'client', '--config', clientConfigFile]), env, logFile });
          return agentDetails(terminationLog);
        },
        teardown: () => server.stop(),
      };
    },
  };
}
