// dvm-agent server (destination side): accepts authenticated tunnel connections and gives each one
// its own `rsync --daemon`, inetd style: rsync's stdin/stdout is a socket whose other end we relay
// to the TLS stream. No rsyncd TCP port exists anywhere.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ServerConfig } from '../contract/agent-config.js';
import type { DaemonModule } from './rsync/daemon-config.js';
import { createHealthServer } from './health.js';
import { listen } from '../contract/listen-address.js';
import type { Logger } from './log.js';
import { destinationFor, renderDaemonConfig } from './rsync/daemon-config.js';
import { LogFollower } from './rsync/log-follower.js';
import { DaemonRequestGate, certificateUris, daemonBusyReply } from './rsync/daemon-request.js';
import { createTunnelListener } from './tunnel/listener.js';
import { socketPair } from './tunnel/socket-pair.js';
import { readTlsMaterial } from './tunnel/tls-options.js';
import { handOver, HandoverRefused, handoverOf, type RunningRelay } from './tunnel/handover.js';
import { relayUnavailable } from './tunnel/native-relay.js';

export interface RunningServer {
  port: number;
  healthPort: number;
  close(): Promise<void>;
}

function serverMetrics(registry: Registry) {
  return {
    accepted: new Counter({ name: 'dvm_server_connections_total', help: 'Authenticated tunnel connections', registers: [registry] }),
    refused: new Counter({ name: 'dvm_server_connections_refused_total', help: 'Connections refused before rsync', labelNames: ['reason'], registers: [registry] }),
    spawned: new Counter({ name: 'dvm_server_rsync_spawned_total', help: 'rsync daemons spawned', registers: [registry] }),
    active: new Gauge({ name: 'dvm_server_rsync_active', help: 'rsync daemons running now', registers: [registry] }),
  };
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const tls = readTlsMaterial(config.tls);
  // A fresh volume's mount point exists; a local destination may not yet. What we create here is
  // removed again if the server cannot start.
  const created = config.modules.filter((module) => !existsSync(module.path)).map((module) => module.path);
  for (const path of created) mkdirSync(path, { recursive: true });
  try {
    assertWritable(config.modules);
  } catch (error) {
    for (const path of created) rmSync(path, { recursive: true, force: true });
    throw error;
  }
  // rsync's config (written once, read-only), its log and transient socket pairs. No client can
  // write here: the destination of every transfer is the server's choice (daemon-request.ts).
  const workDir = mkdtempSync(join(config.workDir ?? tmpdir(), 'dvm-server-'));
  const root = process.getuid?.() === 0;
  const rsyncdConf = join(workDir, 'rsyncd.conf');
  const daemonLog = new LogFollower(join(workDir, 'rsyncd.log'));
  writeFileSync(rsyncdConf, renderDaemonConfig({ logFile: daemonLog.path, modules: config.modules, root }), { mode: 0o400 });
  const modulesByName = new Map(config.modules.map((module) => [module.name, module]));

  const registry = new Registry();
  const metrics = serverMetrics(registry);
  let connectionSeq = 0;
  const running = new Set<ChildProcess>();
  const relays = new Set<RunningRelay>();
  const unavailable = relayUnavailable();
  if (unavailable !== null) log.info(unavailable);

  /** After the gate: the rest of the connection, natively when it can be handed over. */
  const relayRest = (id: number, socket: TLSSocket, ours: Socket, first: Buffer): void => {
    const handover = handoverOf(socket);
    // rsync -> client is piped since rsync started (serveRsync); the client's side now follows.
    const inJavaScript = (): void => {
      ours.write(first);
      socket.pipe(ours);
    };
    if (handover === undefined) {
      inJavaScript();
      return;
    }
    // Synchronously, inside the gate's 'data' event: no record after this one reaches node:tls,
    // and nothing more of rsync's goes through it.
    handover.stream.freeze();
    socket.pause();
    ours.unpipe(socket);
    handOver(socket, ours, { toPlain: first }).then((relay) => {
      relays.add(relay);
      void relay.done.then((result) => {
        relays.delete(relay);
        const fields = { connection: id, code: result.code, alert: result.alert, bytesIn: result.bytesToPlain, bytesOut: result.bytesFromPlain, cpuUserMs: Math.round(result.cpuUserMs), cpuSystemMs: Math.round(result.cpuSystemMs) };
        if (result.code === null) log.info(fields, 'tunnel relay ended');
        else log.warn(fields, `tunnel relay ended: ${result.message}`);
        socket.destroy();
      });
    }, (error: Error) => {
      if (error instanceof HandoverRefused && !socket.destroyed && !ours.destroyed) {
        log.warn({ connection: id, reason: error.message }, 'this connection stays with the JavaScript relay');
        handover.stream.passThrough();
        ours.pipe(socket);
        inJavaScript();
        return;
      }
      log.warn({ connection: id, error: error.message }, 'the hand-over to the native relay failed');
      socket.destroy();
      ours.destroy();
    });
  };

  const serveRsync = async (socket: TLSSocket): Promise<void> => {
    const id = ++connectionSeq;
    metrics.accepted.inc();
    const [ours, theirs] = await socketPair(workDir);
    const rsync = spawn(config.rsyncPath, ['--daemon', `--config=${rsyncdConf}`], { stdio: [theirs, theirs, 'ignore'] });
    theirs.destroy();
    metrics.spawned.inc();
    metrics.active.inc();
    running.add(rsync);
    const peer = socket.getPeerCertificate();
    log.info({ connection: id, pid: rsync.pid, peer: peer.subject?.CN }, 'rsync spawned');
    ours.pipe(socket);
    ours.on('error', () => socket.destroy());
    socket.on('error', () => ours.destroy());
    socket.on('close', () => {
      // The client is gone: an rsync left waiting on a dead socket would hold the module.
      if (rsync.exitCode === null) setTimeout(() => rsync.kill('SIGTERM'), 5_000).unref();
    });
    rsync.on('exit', (code, signal) => {
      running.delete(rsync);
      metrics.active.dec();
      for (const line of daemonLog.readNew()) log.info({ connection: id, rsync: line }, 'rsync daemon');
      log.info({ connection: id, exitCode: code, signal }, 'rsync exited');
    });
    const identities = certificateUris(peer.subjectaltname);
    const allowed = new Set(config.modules.filter((module) => identities.has(module.client)).map((module) => module.name));
    gateRequest(socket, ours, (first) => relayRest(id, socket, ours, first), new DaemonRequestGate({
      allowedModules: allowed,
      destinationFor: (name) => destinationFor(modulesByName.get(name) as DaemonModule, root),
    }), (reason, detail) => {
      metrics.refused.inc({ reason });
      log.warn({ connection: id, reason, detail }, 'request refused');
      rsync.kill('SIGTERM');
    });
  };

  const tunnel = createTunnelListener({
    tls,
    minVersion: config.tlsMinVersion,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    maxConnections: config.maxConnections,
    busyReply: daemonBusyReply(config.maxConnections),
    onReady: (socket) => {
      serveRsync(socket).catch((error: Error) => {
        log.error({ error: error.message }, 'cannot start rsync');
        socket.destroy();
      });
    },
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
    rmSync(workDir, { recursive: true, force: true });
    for (const path of created) rmSync(path, { recursive: true, force: true });
    throw error;
  }
  ready = true;
  log.info({ port, healthPort, modules: config.modules.map((m) => m.name) }, 'listening');

  return {
    port,
    healthPort,
    close: async () => {
      ready = false;
      // A stopping server ends its transfers now; the clients see a lost connection and retry.
      for (const rsync of running) rsync.kill('SIGTERM');
      for (const relay of relays) relay.abort();
      health.closeAllConnections();
      await Promise.all([
        new Promise((resolve) => tunnel.close(resolve)),
        new Promise((resolve) => health.close(resolve)),
      ]);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Relays the client's request through the gate to rsync, then hands everything else, starting
 * with the request's last bytes, to `relayRest`. */
function gateRequest(socket: TLSSocket, rsync: Socket, relayRest: (first: Buffer) => void, gate: DaemonRequestGate, onRefused: (reason: string, detail: string) => void): void {
  // A client that hangs up before its request is complete ends nothing by itself: the tunnel is
  // half-open by design (allowHalfOpen, for rsync's own shutdown) and rsync, still waiting for the
  // module line, would hold the connection slot for good. Once the request is through, the relay
  // (relayRest) hands the end to rsync instead.
  const onEarlyEnd = (): void => {
    rsync.destroy();
    socket.destroy();
  };
  socket.once('end', onEarlyEnd);
  const onData = (chunk: Buffer): void => {
    let step = gate.push(chunk);
    while (step.kind === 'forward') {
      rsync.write(step.bytes);
      step = gate.push(Buffer.alloc(0));
    }
    if (step.kind === 'more') return;
    socket.off('data', onData);
    socket.off('end', onEarlyEnd);
    if (step.kind === 'refuse') {
      onRefused(step.reason, step.reply.trim());
      socket.end(step.reply);
      rsync.destroy();
      return;
    }
    relayRest(step.bytes);
  };
  socket.on('data', onData);
}

/** A volume this uid cannot write would fail every file of the copy; say so once, at start. */
function assertWritable(modules: readonly DaemonModule[]): void {
  for (const module of modules) {
    try {
      accessSync(module.path, constants.W_OK | constants.X_OK);
    } catch {
      throw new Error(`destination volume ${module.path} (module ${module.name}) is not writable by uid ${process.getuid?.()} `
        + `gid ${process.getgid?.()} groups ${process.getgroups?.().join(',')}: give the pods an fsGroup (setting rsync_fs_group; `
        + 'OpenShift assigns one) or run them as root (migration_rsync_privileged)');
    }
  }
}
