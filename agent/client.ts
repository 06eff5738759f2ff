// dvm-agent client (source side): copies one PVC through the tunnel, retrying by exit-code class
// with backoff, publishing progress, optionally verifying, and leaving the result where the
// controller reads it.
import { statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientConfig } from '../contract/agent-config.js';
import { createHealthServer } from './health.js';
import { listen } from '../contract/listen-address.js';
import type { Logger } from './log.js';
import type { ResultEvent } from '../contract/events.js';
import { createClientMetrics } from './progress/metrics.js';
import { EventPublisher } from './progress/publisher.js';
import { measureSource, walkImplementation, type SourceSize } from './progress/source-size.js';
import { publishResult } from './progress/result.js';
import { ProgressTracker } from './progress/tracker.js';
import { backoffDelayMs } from './rsync/backoff.js';
import { buildClientArgv } from './rsync/client-argv.js';
import { judgeAttempt } from './rsync/outcome.js';
import { parseProgress2Line } from './rsync/progress2.js';
import { runRsync, type RsyncRun } from './rsync/pty-runner.js';
import { readTlsMaterial } from './tunnel/tls-options.js';
import { openRsyncEntry, type RsyncEntry } from './tunnel/rsync-entry.js';
import { verifyCopy } from './verify.js';

export interface ClientRun {
  result: ResultEvent;
  exitCode: number;
}

/** What one copy works with, from its start to its result. */
interface Copy {
  config: ClientConfig;
  log: Logger;
  signal: AbortSignal;
  publisher: EventPublisher;
  tracker: ProgressTracker;
  entry: RsyncEntry;
  env: NodeJS.ProcessEnv;
  destinationUrl: string;
  startRsync: () => Promise<RsyncRun>;
  /** Stops the rsync already started when the source walk fails. */
  walkFailed: AbortController;
}

/** How the rsync attempts ended. */
interface Attempts {
  succeeded: boolean;
  exitCode: number;
  message: string;
  attempts: number;
}

export async function runClient(config: ClientConfig, log: Logger, signal: AbortSignal): Promise<ClientRun> {
  const tls = readTlsMaterial(config.tls);
  if (!statSync(config.source, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`source ${config.source} is not a directory`);
  }
  const startedAt = Date.now();
  const metrics = createClientMetrics(config.pvc);
  const publisher = new EventPublisher([metrics.record]);
  const progressServer = await serveProgress(config, metrics.registry, publisher, log);
  const entry = await openRsyncEntry({ ...config.server, tls, proxyUrl: config.settings.stunnel_tcp_proxy, noProxy: config.settings.noProxy }, log);
  const copy = prepareCopy(config, log, signal, publisher, entry);

  // The first rsync starts before the source walk, and the walk runs beside it (source-size.ts):
  // until the totals are in, progress counts what rsync has listed.
  log.info({ pvc: config.pvc, source: config.source, server: `${config.server.host}:${config.server.port}` }, 'copy starting');
  const firstRun = signal.aborted ? null : copy.startRsync();
  // Ticking from the start: the walk runs at idle priority and can take as long as the copy.
  const ticker = setInterval(() => publisher.publish(copy.tracker.snapshot()), config.progressIntervalMs);
  const walkFailed = await measureTotals(copy, firstRun);
  if (walkFailed) {
    clearInterval(ticker);
    await entry.close();
    throw walkFailed;
  }
  const attempts = await copyWithRetries(copy, firstRun);
  const verified = attempts.succeeded ? await completeAndVerify(copy, attempts) : null;
  clearInterval(ticker);
  publisher.publish(copy.tracker.snapshot());
  const result = publishResult(config.pvc, config.terminationLog, copy.tracker, publisher, startedAt, { ...attempts, verified }, log);
  await entry.close();
  await publisher.close();
  progressServer?.close();
  return { result, exitCode: attempts.succeeded ? 0 : attempts.exitCode > 0 ? attempts.exitCode : 1 };
}

/** The /progress websocket and /metrics, when the config asks for them. */
async function serveProgress(config: ClientConfig, registry: Registry, publisher: EventPublisher, log: Logger): Promise<Server | null> {
  if (!config.progressListen) return null;
  const server = createHealthServer({ registry, isReady: () => true });
  publisher.attach(server);
  const port = await listen(server, config.progressListen, 'progressListen');
  log.info({ port }, 'progress websocket listening on /progress');
  return server;
}

function prepareCopy(config: ClientConfig, log: Logger, signal: AbortSignal, publisher: EventPublisher, entry: RsyncEntry): Copy {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // rsync must reach the server through our entry, never through a program of the environment's.
  delete env.RSYNC_CONNECT_PROG;
  // The module only: where inside it rsync writes is the server's to decide (daemon-request.ts).
  const destinationUrl = `rsync://127.0.0.1:${entry.port}/${config.module}/`;
  const argv = buildClientArgv({ settings: config.settings, source: config.source, destinationUrl });
  const tracker = new ProgressTracker(config.pvc, null, 0);
  const walkFailed = new AbortController();
  return {
    config,
    log,
    signal,
    publisher,
    tracker,
    entry,
    env,
    destinationUrl,
    walkFailed,
    startRsync: () =>
      runRsync({
        rsyncPath: config.rsyncPath,
        argv,
        env,
        signal: AbortSignal.any([signal, walkFailed.signal]),
        onLine: (line) => {
          const sample = parseProgress2Line(line);
          if (sample) tracker.update(sample);
          else log.debug({ rsync: line }, 'rsync output');
        },
      }),
  };
}

/** Walks the source for the totals beside the first rsync and returns the walk's error, if the walk
 * failed while that rsync ran (it is stopped then). The walk runs at idle priority, so on a busy CPU
 * it gets time only when rsync waits; a copy that ends first does not wait for it. (It did: under
 * load a 200,000-file re-sync took 11.5 s where rsync took 5.3 s, all of the rest the walk.) Totals
 * that arrive later are published with the next progress event, never after the result; a walk
 * that fails after the first rsync ended is only logged: rsync has read the same tree by then. */
async function measureTotals(copy: Copy, firstRun: Promise<RsyncRun> | null): Promise<unknown> {
  const walk = walkImplementation();
  const measured = measureSource(copy.config.source, { implementation: walk.implementation }).then(
    (source) => {
      takeTotals(copy, source, walk);
      return undefined;
    },
    (error: unknown) => error,
  );
  const firstEnded = firstRun?.then(() => FIRST_RUN_ENDED) ?? new Promise<never>(() => {});
  const first = await Promise.race([measured, firstEnded]);
  if (first !== FIRST_RUN_ENDED) {
    if (first === undefined) return undefined;
    copy.walkFailed.abort();
    await firstRun;
    return first;
  }
  void measured.then((error) => {
    if (error)
      copy.log.warn({ pvc: copy.config.pvc, error: (error as Error).message }, 'source walk failed after the first rsync ended; progress has no totals');
  });
  return undefined;
}

const FIRST_RUN_ENDED = Symbol('first rsync ended');

function takeTotals(copy: Copy, source: SourceSize, walk: ReturnType<typeof walkImplementation>): void {
  const { config, log, tracker, publisher } = copy;
  tracker.setTotals(source.bytes, source.entries);
  publisher.publish(tracker.snapshot());
  log.info(
    {
      pvc: config.pvc,
      source: config.source,
      bytes: source.bytes,
      entries: source.entries,
      walk: walk.implementation,
      ...(walk.reason ? { why: walk.reason } : {}),
    },
    'source measured',
  );
}

/** rsync until it succeeds, fails for good, runs out of retries or the agent is stopped. */
async function copyWithRetries(copy: Copy, firstRun: Promise<RsyncRun> | null): Promise<Attempts> {
  const { config, log, signal, publisher, tracker, entry } = copy;
  const state: Attempts = { succeeded: false, exitCode: 0, message: '', attempts: 0 };
  while (!signal.aborted) {
    state.attempts += 1;
    tracker.startAttempt(state.attempts);
    const run = await (firstRun ?? copy.startRsync());
    firstRun = null;
    state.exitCode = run.exitCode;
    const outcome = judgeAttempt(run.exitCode, run.messages, await entry.takeStatus(), { lines: run.errors, truncated: run.errorsTruncated });
    if (outcome.verdict === 'ok' || outcome.verdict === 'ok-with-warning') {
      state.succeeded = true;
      state.message = outcome.verdict === 'ok' ? 'copy complete' : `copy complete with a warning: ${outcome.reason}`;
      if (outcome.verdict === 'ok-with-warning') log.warn({ reason: outcome.reason }, 'copy complete with a warning');
      return state;
    }
    const retryInMs = retryDelay(config, outcome.verdict === 'retry', state.attempts, signal);
    state.message = outcome.reason;
    publisher.publish({ type: 'attempt', pvc: config.pvc, attempt: state.attempts, exitCode: state.exitCode, reason: outcome.reason, retryInMs });
    log.warn(
      { attempt: state.attempts, exitCode: state.exitCode, reason: outcome.reason, retryInMs },
      retryInMs === null ? 'attempt failed, giving up' : 'attempt failed, retrying',
    );
    if (retryInMs === null) break;
    await sleep(retryInMs, undefined, { signal }).catch(() => undefined);
  }
  if (signal.aborted) state.message = 'interrupted';
  return state;
}

/** The wait before the next attempt, or null when there is none. */
function retryDelay(config: ClientConfig, retryable: boolean, attempt: number, signal: AbortSignal): number | null {
  const retries = attempt - 1;
  if (!retryable || retries >= config.settings.rsync_backoff_limit || signal.aborted) return null;
  return backoffDelayMs(attempt, config.retryBaseMs, config.retryMaxMs);
}

/** Marks the copy complete and, if asked, compares the trees; a difference fails the copy. */
async function completeAndVerify(copy: Copy, attempts: Attempts): Promise<boolean | null> {
  copy.tracker.complete();
  if (!copy.config.verify) return null;
  const verification = await verifyCopy({ config: copy.config, env: copy.env, destinationUrl: copy.destinationUrl, signal: copy.signal });
  if (!verification.identical) {
    attempts.succeeded = false;
    attempts.message = verification.message;
  }
  copy.log.info({ verified: verification.identical, detail: verification.message }, 'verify pass done');
  return verification.identical;
}
