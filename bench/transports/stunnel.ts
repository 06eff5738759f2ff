// rsync through Debian's stunnel4, client and server, configured as MTC configures them.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeLoopbackPort } from '../processes/free-port.js';
import { runToEnd } from '../processes/run-to-end.js';
import { startService, type Service } from '../processes/service.js';
import { loopbackDaemonUrl, rsyncClientArgv } from '../rsync/client-argv.js';
import { BENCH_MODULE, renderDaemonConfig } from '../rsync/daemon-config.js';
import type { ChargedProcess, Transport } from '../transport.js';
import { startRsyncDaemon, type RsyncDaemon } from './plain.js';
import { renderStunnelClient, renderStunnelServer } from './stunnel-config.js';

const STUNNEL = '/usr/bin/stunnel4';
const RSYNC = '/usr/bin/rsync';
const READY = /Configuration successful/;

export interface StunnelVariant {
  name: string;
  description: string;
  serverTarget: 'connect' | 'exec';
  /** Global TLS lines for both ends; MTC's `sslVersion = TLSv1.2` when absent. */
  tlsLines?: string[];
}

export function makeStunnelTransport(variant: StunnelVariant): Transport {
  return {
    name: variant.name,
    description: variant.description,
    unavailable: () => (existsSync(STUNNEL) ? undefined : `${STUNNEL} not installed (apt-get install stunnel4)`),
    async prepare(context) {
      const started: Array<Service | RsyncDaemon> = [];
      const processes: ChargedProcess[] = [];
      const teardown = async () => {
        for (const s of started.reverse()) await s.stop();
      };
      try {
        let target: Parameters<typeof renderStunnelServer>[0]['target'];
        if (variant.serverTarget === 'connect') {
          const daemon = await startRsyncDaemon(context, 'rsyncd');
          started.push(daemon);
          processes.push({ pid: daemon.pid, side: 'server' });
          target = { kind: 'connect', port: daemon.port };
        } else {
          const rsyncConfig = join(context.workDir, 'rsyncd-exec.conf');
          writeFileSync(
            rsyncConfig,
            renderDaemonConfig({
              destDir: context.destDir,
              logFile: join(context.workDir, 'rsyncd-exec.log'),
              asRoot: process.getuid?.() === 0,
            }),
          );
          target = { kind: 'exec', rsyncPath: RSYNC, rsyncConfig };
        }

        const serverPort = await freeLoopbackPort();
        const serverConf = join(context.workDir, 'stunnel-server.conf');
        writeFileSync(
          serverConf,
          renderStunnelServer({
            acceptPort: serverPort,
            target,
            cert: context.pki.server.cert,
            key: context.pki.server.key,
            extra: variant.tlsLines,
          }),
        );
        const server = await startService({
          name: 'stunnel server',
          ...context.charge('server', STUNNEL, [serverConf]),
          logFile: join(context.workDir, 'stunnel-server.log'),
          ready: { kind: 'log', pattern: READY },
        });
        started.push(server);
        processes.push({ pid: server.pid, side: 'server' });

        const clientPort = await freeLoopbackPort();
        const clientConf = join(context.workDir, 'stunnel-client.conf');
        writeFileSync(
          clientConf,
          renderStunnelClient({
            acceptPort: clientPort,
            serverPort,
            cert: context.pki.client.cert,
            key: context.pki.client.key,
            extra: variant.tlsLines,
          }),
        );
        const client = await startService({
          name: 'stunnel client',
          ...context.charge('client', STUNNEL, [clientConf]),
          logFile: join(context.workDir, 'stunnel-client.log'),
          ready: { kind: 'log', pattern: READY },
        });
        started.push(client);
        processes.push({ pid: client.pid, side: 'client' });

        return {
          processes,
          copy: (logFile) =>
            runToEnd({ ...context.charge('client', RSYNC, rsyncClientArgv(context.sourceDir, loopbackDaemonUrl(clientPort, BENCH_MODULE))), logFile }),
          teardown,
        };
      } catch (error) {
        await teardown();
        throw error;
      }
    },
  };
}
