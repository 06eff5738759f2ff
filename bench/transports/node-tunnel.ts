// The bench's minimal Node TLS tunnel (bench/node-tunnel/*): the agent's data path with nothing
// else, and knobs (cipher, highWaterMark, relay style, connect mode, pty) to measure one change at a
// time. Its numbers say what the tunnel costs; the dvm transport's say what the product costs.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn as spawnPty } from 'node-pty';
import { rsyncSettingsSchema } from '../../contract/rsync-settings.js';
import { buildClientArgv } from '../../agent/rsync/client-argv.js';
import { knobsToEnv, type TunnelKnobs } from '../node-tunnel/knobs.js';
import { freeLoopbackPort } from '../processes/free-port.js';
import { runToEnd } from '../processes/run-to-end.js';
import { startService, type Service } from '../processes/service.js';
import { loopbackDaemonUrl, rsyncClientArgv } from '../rsync/client-argv.js';
import { BENCH_MODULE, renderDaemonConfig } from '../rsync/daemon-config.js';
import type { CommandLine } from '../processes/cpu-meter.js';
import type { ChargedProcess, Transport } from '../transport.js';

const TUNNEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../node-tunnel');

export interface NodeTunnelVariant {
  name: string;
  description: string;
  /** connect-prog: rsync spawns the tunnel per connection (RSYNC_CONNECT_PROG, as the agent does);
   * listener: a long-lived loopback listener the rsync client connects to over TCP. */
  mode: 'connect-prog' | 'listener';
  knobs?: Partial<TunnelKnobs>;
  /** Run the rsync client as the agent does: under a pty, with the agent's argv (--info=...PROGRESS2). */
  pty?: boolean;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** rsync under a pseudo-terminal, output drained and dropped: the agent's runner minus parsing. */
function runUnderPty({ command, args }: CommandLine, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnPty(command, args, { name: 'dumb', cols: 250, rows: 40, env: env as Record<string, string> });
    let tail = '';
    child.onData((chunk) => {
      tail = (tail + chunk).slice(-2000);
    });
    child.onExit(({ exitCode, signal }) =>
      exitCode === 0 && !signal ? resolvePromise() : reject(new Error(`rsync under pty ended with ${signal ?? exitCode}:\n${tail}`)),
    );
  });
}

export function makeNodeTunnelTransport(variant: NodeTunnelVariant): Transport {
  return {
    name: variant.name,
    description: variant.description,
    unavailable: () => undefined,
    async prepare(context) {
      const env = { ...process.env, ...knobsToEnv(variant.knobs ?? {}) };
      const started: Service[] = [];
      const processes: ChargedProcess[] = [];
      const teardown = async () => {
        for (const s of started.reverse()) await s.stop();
      };
      try {
        const rsyncConfig = join(context.workDir, 'rsyncd.conf');
        writeFileSync(
          rsyncConfig,
          renderDaemonConfig({
            destDir: context.destDir,
            logFile: join(context.workDir, 'rsyncd.log'),
            asRoot: process.getuid?.() === 0,
          }),
        );
        const serverPort = await freeLoopbackPort();
        const server = await startService({
          name: 'node tunnel server',
          ...context.charge('server', process.execPath, [
            join(TUNNEL_DIR, 'tunnel-server.js'),
            '--port',
            String(serverPort),
            '--rsync-config',
            rsyncConfig,
            '--ca',
            context.pki.server.ca,
            '--cert',
            context.pki.server.cert,
            '--key',
            context.pki.server.key,
          ]),
          env,
          logFile: join(context.workDir, 'server.log'),
          ready: { kind: 'log', pattern: /^listening/m },
        });
        started.push(server);
        processes.push({ pid: server.pid, side: 'server' });

        const connectArgs = [
          join(TUNNEL_DIR, 'tunnel-connect.js'),
          '--port',
          String(serverPort),
          '--servername',
          context.pki.serverName,
          '--ca',
          context.pki.client.ca,
          '--cert',
          context.pki.client.cert,
          '--key',
          context.pki.client.key,
        ];
        let destinationUrl: string;
        const clientEnv = { ...env };
        if (variant.mode === 'listener') {
          const listenPort = await freeLoopbackPort();
          const listener = await startService({
            name: 'node tunnel listener',
            ...context.charge('client', process.execPath, [...connectArgs, '--listen', String(listenPort)]),
            env,
            logFile: join(context.workDir, 'listener.log'),
            ready: { kind: 'log', pattern: /^listening/m },
          });
          started.push(listener);
          processes.push({ pid: listener.pid, side: 'client' });
          destinationUrl = loopbackDaemonUrl(listenPort, BENCH_MODULE);
        } else {
          clientEnv.RSYNC_CONNECT_PROG = `exec ${[process.execPath, ...connectArgs].map(shellQuote).join(' ')}`;
          destinationUrl = `rsync://${context.pki.serverName}/${BENCH_MODULE}/`;
        }

        const copy = variant.pty
          ? () =>
              runUnderPty(
                context.charge('client', 'rsync', buildClientArgv({ settings: rsyncSettingsSchema.parse({}), source: context.sourceDir, destinationUrl })),
                clientEnv,
              )
          : (logFile: string) =>
              runToEnd({ ...context.charge('client', 'rsync', rsyncClientArgv(context.sourceDir, destinationUrl)), env: clientEnv, logFile });
        return { processes, copy, teardown };
      } catch (error) {
        await teardown();
        throw error;
      }
    },
  };
}
