// dvm-agent server (destination side): accepts authenticated tunnel connections and gives each one
// its own `rsync --daemon` (rsync/daemon-sessions.ts). No rsyncd TCP port exists anywhere.
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ServerConfig } from '../contract/agent-config.js';
import { listen } from '../contract/listen-address.js';
import { createHealthServer } from './health.js';
import type { Logger } from './log.js';
import { renderDaemonConfig, type DaemonModule } from './rsync/daemon-config.js';
import { daemonBusyReply } from './rsync/daemon-request.js';
import { DaemonSessions, type SessionMetrics } from './rsync/daemon-sessions.js';
import { LogFollower } from './rsync/log-follower.js';
import { createTunnelListener } from './tunnel/listener.js';
import { relayUnavailable } from './tunnel/native-relay.js';
import { readTlsMaterial } from './tunnel/tls-options.js';

export interface RunningServer {
  port: number;
  healthPort: number;
  close(): Promise<void>;
}

function serverMetrics(registry: Registry): SessionMetrics {
  return {
    accepted: new Counter({ name: 'dvm_server_connections_total', help: 'Authenticated tunnel connections', registers: [registry] }),
    refused: new Counter({
      name: 'dvm_server_connections_refused_total',
      help: 'Connections refused before rsync',
      labelNames: ['reason'],
      registers: [registry],
    }),
    spawned: new Counter({ name: 'dvm_server_rsync_spawned_total', help: 'rsync daemons spawned', registers: [registry] }),
    active: new Gauge({ name: 'dvm_server_rsync_active', help: 'rsync daemons running now', registers: [registry] }),
  };
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const tls = readTlsMaterial(config.tls);
  const created = prepareDestinations(config.modules);
  // rsync's config (written once, read-only), its log and transient socket pairs. No client can
  // write here: the destination of every transfer is the server's choice (daemon-request.ts).
  const workDir = mkdtempSync(join(config.workDir ?? tmpdir(), 'dvm-server-'));
  const removeCreated = () => {
    rmSync(workDir, { recursive: true, force: true });
    for (const path of created) rmSync(path, { recursive: true, force: true });
  };
  const registry = new Registry();
  const metrics = serverMetrics(registry);
  const sessions = new DaemonSessions({
    ...writeDaemonConfig(workDir, config.modules),
    rsyncPath: config.rsyncPath,
    workDir,
    modules: config.modules,
    metrics,
    log,
  });
  const unavailable = relayUnavailable();
  if (unavailable !== null) log.info(unavailable);

  const tunnel = createTunnelListener({
    tls,
    minVersion: config.tlsMinVersion,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    maxConnections: config.maxConnections,
    busyReply: daemonBusyReply(config.maxConnections),
    onReady: (socket) => sessions.serve(socket),
    onRefused: (reason, detail) => {
      metrics.refused.inc({ reason });
      log.warn({ reason, detail }, 'connection refused');
    },
    handover: true,
  });
  let ready = false;
  const health = createHealthServer({ registry, isReady: () => ready });
  let healthPort: number;
  let port: number;
  try {
    healthPort = await listen(health, config.healthListen, 'healthListen');
    port = await listen(tunnel, config.listen, 'listen');
  } catch (error) {
    health.close();
    removeCreated();
    throw error;
  }
  ready = true;
  log.info({ port, healthPort, modules: config.modules.map((m) => m.name) }, 'listening');

  return {
    port,
    healthPort,
    close: async () => {
      ready = false;
      sessions.stopAll();
      health.closeAllConnections();
      await Promise.all([new Promise((resolve) => tunnel.close(resolve)), new Promise((resolve) => health.close(resolve))]);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** A fresh volume's mount point exists; a local destination may not yet. Creates the missing ones
 * and checks all are writable; returns what it created, and removes it again when it throws. */
function prepareDestinations(modules: readonly DaemonModule[]): string[] {
  const created = modules.filter((module) => !existsSync(module.path)).map((module) => module.path);
  for (const path of created) mkdirSync(path, { recursive: true });
  try {
    assertWritable(modules);
  } catch (error) {
    for (const path of created) rmSync(path, { recursive: true, force: true });
    throw error;
  }
  return created;
}

/** rsyncd.conf, 0400, once; and the daemon log it names. */
function writeDaemonConfig(workDir: string, modules: readonly DaemonModule[]): { rsyncdConf: string; daemonLog: LogFollower } {
  const root = process.getuid?.() === 0;
  const rsyncdConf = join(workDir, 'rsyncd.conf');
  const daemonLog = new LogFollower(join(workDir, 'rsyncd.log'));
  writeFileSync(rsyncdConf, renderDaemonConfig({ logFile: daemonLog.path, modules, root }), { mode: 0o400 });
  return { rsyncdConf, daemonLog };
}

/** A volume this uid cannot write would fail every file of the copy; say so once, at start. */
function assertWritable(modules: readonly DaemonModule[]): void {
  for (const module of modules) {
    try {
      accessSync(module.path, constants.W_OK | constants.X_OK);
    } catch {
      throw new Error(
        `destination volume ${module.path} (module ${module.name}) is not writable by uid ${process.getuid?.()} ` +
          `gid ${process.getgid?.()} groups ${process.getgroups?.().join(',')}: give the pods an fsGroup (setting rsync_fs_group; ` +
          'OpenShift assigns one) or run them as root (migration_rsync_privileged)',
      );
    }
  }
}
