// The limit: an rsync daemon on loopback TCP, no encryption at all.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeLoopbackPort } from '../processes/free-port.js';
import { runToEnd } from '../processes/run-to-end.js';
import { startService } from '../processes/service.js';
import { loopbackDaemonUrl, rsyncClientArgv } from '../rsync/client-argv.js';
import { BENCH_MODULE, renderDaemonConfig } from '../rsync/daemon-config.js';
import type { Transport, TransportContext } from '../transport.js';

export interface RsyncDaemon {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** `rsync --daemon` on 127.0.0.1 (also the stunnel server's connect target, as in MTC's pods). */
export async function startRsyncDaemon(context: TransportContext, name: string): Promise<RsyncDaemon> {
  const config = join(context.workDir, `${name}.conf`);
  writeFileSync(
    config,
    renderDaemonConfig({
      destDir: context.destDir,
      logFile: join(context.workDir, `${name}.log`),
      asRoot: process.getuid?.() === 0,
    }),
  );
  const port = await freeLoopbackPort();
  const service = await startService({
    name,
    ...context.charge('server', 'rsync', ['--daemon', '--no-detach', `--config=${config}`, '--address=127.0.0.1', `--port=${port}`]),
    logFile: join(context.workDir, `${name}.out`),
    ready: { kind: 'tcp', port },
  });
  return { pid: service.pid, port, stop: () => service.stop() };
}

export const plainTransport: Transport = {
  name: 'plain',
  description: 'rsync daemon over loopback TCP, no TLS (the limit)',
  unavailable: () => undefined,
  async prepare(context) {
    const daemon = await startRsyncDaemon(context, 'rsyncd');
    return {
      processes: [{ pid: daemon.pid, side: 'server' }],
      copy: (logFile) =>
        runToEnd({ ...context.charge('client', 'rsync', rsyncClientArgv(context.sourceDir, loopbackDaemonUrl(daemon.port, BENCH_MODULE))), logFile }),
      teardown: () => daemon.stop(),
    };
  },
};
