// One `rsync --daemon` per authenticated tunnel connection, inetd style: rsync's stdin/stdout is one
// end of a Unix socket pair and we relay the other end to the TLS stream. The client's request goes
// through the daemon-request gate first (the module its certificate names, the destination the
// server chooses); what follows is handed to the native relay when the connection allows it, else
// piped in JavaScript.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Counter, Gauge } from 'prom-client';
import type { ServerConfig } from '../../contract/agent-config.js';
import type { Logger } from '../log.js';
import { handOver, HandoverRefused, handoverOf, type RunningRelay } from '../tunnel/handover.js';
import { socketPair } from '../tunnel/socket-pair.js';
import { destinationFor, type DaemonModule } from './daemon-config.js';
import { DaemonRequestGate, certificateUris } from './daemon-request.js';
import type { LogFollower } from './log-follower.js';

export interface SessionMetrics {
  accepted: Counter;
  refused: Counter<'reason'>;
  spawned: Counter;
  active: Gauge;
}

export interface DaemonSessionsOptions {
  rsyncPath: string;
  /** Where the socket pairs live (the server's work dir, no client can write there). */
  workDir: string;
  rsyncdConf: string;
  daemonLog: LogFollower;
  /** The server's modules, each with the client identity it serves. */
  modules: ServerConfig['modules'];
  metrics: SessionMetrics;
  log: Logger;
}

/** How long an rsync may outlive its client before it is told to stop. */
const ORPHAN_GRACE_MS = 5_000;

export class DaemonSessions {
  private connectionSeq = 0;
  private readonly running = new Set<ChildProcess>();
  private readonly relays = new Set<RunningRelay>();
  private readonly modulesByName: Map<string, DaemonModule>;

  constructor(private readonly options: DaemonSessionsOptions) {
    this.modulesByName = new Map(options.modules.map((module) => [module.name, module]));
  }

  /** Serves one authenticated connection; a failure to start rsync ends it. */
  serve(socket: TLSSocket): void {
    this.start(socket).catch((error: Error) => {
      this.options.log.error({ error: error.message }, 'cannot start rsync');
      socket.destroy();
    });
  }

  /** Ends every transfer now: the clients see a lost connection and retry. */
  stopAll(): void {
    for (const rsync of this.running) rsync.kill('SIGTERM');
    for (const relay of this.relays) relay.abort();
  }

  private async start(socket: TLSSocket): Promise<void> {
    const { log, metrics } = this.options;
    const id = ++this.connectionSeq;
    metrics.accepted.inc();
    const [ours, theirs] = await socketPair(this.options.workDir);
    const rsync = this.spawnDaemon(id, theirs);
    theirs.destroy();
    const peer = socket.getPeerCertificate();
    log.info({ connection: id, pid: rsync.pid, peer: peer.subject?.CN }, 'rsync spawned');
    ours.pipe(socket);
    ours.on('error', () => socket.destroy());
    socket.on('error', () => ours.destroy());
    socket.on('close', () => {
      // The client is gone: an rsync left waiting on a dead socket would hold the module.
      if (rsync.exitCode === null) setTimeout(() => rsync.kill('SIGTERM'), ORPHAN_GRACE_MS).unref();
    });
    gateRequest(
      socket,
      ours,
      (first) => this.relayRest(id, socket, ours, first),
      this.gateFor(certificateUris(peer.subjectaltname)),
      (reason, detail) => {
        metrics.refused.inc({ reason });
        log.warn({ connection: id, reason, detail }, 'request refused');
        rsync.kill('SIGTERM');
      },
    );
  }

  private spawnDaemon(id: number, stdio: Socket): ChildProcess {
    const { log, metrics, daemonLog } = this.options;
    const rsync = spawn(this.options.rsyncPath, ['--daemon', `--config=${this.options.rsyncdConf}`], { stdio: [stdio, stdio, 'ignore'] });
    metrics.spawned.inc();
    metrics.active.inc();
    this.running.add(rsync);
    rsync.on('exit', (code, signal) => {
      this.running.delete(rsync);
      metrics.active.dec();
      for (const line of daemonLog.readNew()) log.info({ connection: id, rsync: line }, 'rsync daemon');
      log.info({ connection: id, exitCode: code, signal }, 'rsync exited');
    });
    return rsync;
  }

  /** The gate for a client with these certificate identities: only the modules they name. */
  private gateFor(identities: Set<string>): DaemonRequestGate {
    const allowed = new Set(this.options.modules.filter((module) => identities.has(module.client)).map((module) => module.name));
    return new DaemonRequestGate({
      allowedModules: allowed,
      destinationFor: (name) => destinationFor(this.modulesByName.get(name) as DaemonModule),
    });
  }

  /** After the gate: the rest of the connection, natively when it can be handed over. */
  private relayRest(id: number, socket: TLSSocket, ours: Socket, first: Buffer): void {
    const log = this.options.log;
    const handover = handoverOf(socket);
    // rsync -> client is piped since rsync started (start); the client's side now follows.
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
    handOver(socket, ours, { toPlain: first }).then(
      (relay) => this.follow(id, relay, socket),
      (error: Error) => {
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
      },
    );
  }

  private follow(id: number, relay: RunningRelay, socket: TLSSocket): void {
    this.relays.add(relay);
    void relay.done.then((result) => {
      this.relays.delete(relay);
      const fields = {
        connection: id,
        code: result.code,
        alert: result.alert,
        bytesIn: result.bytesToPlain,
        bytesOut: result.bytesFromPlain,
        cpuUserMs: Math.round(result.cpuUserMs),
        cpuSystemMs: Math.round(result.cpuSystemMs),
      };
      if (result.code === null) this.options.log.info(fields, 'tunnel relay ended');
      else this.options.log.warn(fields, `tunnel relay ended: ${result.message}`);
      socket.destroy();
    });
  }
}

/** Relays the client's request through the gate to rsync, then hands everything else, starting
 * with the request's last bytes, to `relayRest`. */
function gateRequest(
  socket: TLSSocket,
  rsync: Socket,
  relayRest: (first: Buffer) => void,
  gate: DaemonRequestGate,
  onRefused: (reason: string, detail: string) => void,
): void {
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
