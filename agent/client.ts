// dvm-agent client (source side): copies one PVC through the tunnel, retrying by exit-code class
// with backoff, publishing progress, optionally verifying, and leaving the result where the
// controller reads it.
import { statSync } from 'node:fs';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientConfig } from '../contract/agent-config.js';
import { createHealthServer } from './health.js';
import { listen } from '../contract/listen-address.js';
import type { Logger } from './log.js';
import type { ResultEvent } from '../contract/events.js';
import { createClientMetrics } from './progress/metrics.js';
import { EventPublisher } from './progress/publisher.js';
import { measureSource, type SourceSize } from './progress/source-size.js';
import { publishResult } from './progress/result.js';
import { ProgressTracker } from './progress/tracker.js';
import { backoffDelayMs } from './rsync/backoff.js';
import { buildClientArgv } from './rsync/client-argv.js';
import { judgeAttempt } from './rsync/outcome.js';
import { parseProgress2Line } from './rsync/progress2.js';
import { runRsync, type RsyncRun } from './rsync/pty-runner.js';
import { readTlsMaterial } from './tunnel/tls-options.js';
import { openRsyncEntry } from './tunnel/rsync-entry.js';
import { verifyCopy } from './verify.js';

export interface ClientRun {
  result: ResultEvent;
  exitCode: number;
}

export async function runClient(config: ClientConfig, log: Logger, signal: AbortSignal): Promise<ClientRun> {
  const tls = readTlsMaterial(config.tls);
  if (!statSync(config.source, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`source ${config.source} is not a directory`);
  }
  const startedAt = Date.now();
  const metrics = createClientMetrics(config.pvc);
  const publisher = new EventPublisher([metrics.record]);
  let progressServer: Server | null = null;
  if (config.progressListen) {
    progressServer = createHealthServer({ registry: metrics.registry, isReady: () => true });
    publisher.attach(progressServer);
    const port = await listen(progressServer, config.progressListen, 'progressListen');
    log.info({ port }, 'progress websocket listening on /progress');
  }

  const entry = await openRsyncEntry({
    ...config.server,
    tls,
    proxyUrl: config.settings.stunnel_tcp_proxy,
    noProxy: config.settings.noProxy,
  }, log);
  const env: NodeJS.ProcessEnv = { ...process.env };
  // rsync must reach the server through our entry, never through a program of the environment's.
  delete env.RSYNC_CONNECT_PROG;
  // The module only: where inside it rsync writes is the server's to decide (daemon-request.ts).
  const destinationUrl = `rsync://127.0.0.1:${entry.port}/${config.module}/`;

  const argv = buildClientArgv({ settings: config.settings, source: config.source, destinationUrl });
  const tracker = new ProgressTracker(config.pvc, 0, 0);
  const walkFailed = new AbortController();
  const startRsync = (): Promise<RsyncRun> => runRsync({
    rsyncPath: config.rsyncPath,
    argv,
    env,
    signal: AbortSignal.any([signal, walkFailed.signal]),
    onLine: (line) => {
      const sample = parseProgress2Line(line);
      if (sample) tracker.update(sample);
      else log.debug({ rsync: line }, 'rsync output');
    },
  });
  // The first rsync starts before the source walk, so the walk overlaps rsync's start-up and the
  // tunnel's handshake. The walk is synchronous: no rsync output is handled before the totals are in.
  let firstRun = signal.aborted ? null : startRsync();
  let source: SourceSize;
  try {
    source = measureSource(config.source);
  } catch (error) {
    walkFailed.abort();
    await firstRun;
    await entry.close();
    throw error;
  }
  tracker.setTotals(source.bytes, source.entries);
  publisher.publish(tracker.snapshot());
  const ticker = setInterval(() => publisher.publish(tracker.snapshot()), config.progressIntervalMs);
  log.info({ pvc: config.pvc, source: config.source, server: `${config.server.host}:${config.server.port}`, bytes: source.bytes, entries: source.entries }, 'copy starting');

  let attempt = 0;
  let exitCode = 0;
  let message = '';
  let succeeded = false;
  while (!signal.aborted) {
    attempt += 1;
    tracker.startAttempt(attempt);
    const run = await (firstRun ?? startRsync());
    firstRun = null;
    exitCode = run.exitCode;
    const outcome = judgeAttempt(run.exitCode, run.messages, entry.takeStatus(), { lines: run.errors, truncated: run.errorsTruncated });
    if (outcome.verdict === 'ok' || outcome.verdict === 'ok-with-warning') {
      succeeded = true;
      message = outcome.verdict === 'ok' ? 'copy complete' : `copy complete with a warning: ${outcome.reason}`;
      if (outcome.verdict === 'ok-with-warning') log.warn({ reason: outcome.reason }, 'copy complete with a warning');
      break;
    }
    const retries = attempt - 1;
    const retryInMs = outcome.verdict === 'retry' && retries < config.settings.rsync_backoff_limit && !signal.aborted
      ? backoffDelayMs(attempt, config.retryBaseMs, config.retryMaxMs)
      : null;
    message = outcome.reason;
    publisher.publish({ type: 'attempt', pvc: config.pvc, attempt, exitCode, reason: outcome.reason, retryInMs });
    log.warn({ attempt, exitCode, reason: outcome.reason, retryInMs }, retryInMs === null ? 'attempt failed, giving up' : 'attempt failed, retrying');
    if (retryInMs === null) break;
    await sleep(retryInMs, undefined, { signal }).catch(() => undefined);
  }
  if (signal.aborted && !succeeded) message = 'interrupted';

  let verified: boolean | null = null;
  if (succeeded) {
    tracker.complete();
    if (config.verify) {
      const verification = await verifyCopy({ config, env, destinationUrl, signal });
      verified = verification.identical;
      if (!verification.identical) {
        succeeded = false;
        message = verification.message;
      }
      log.info({ verified, detail: verification.message }, 'verify pass done');
    }
  }
  clearInterval(ticker);
  publisher.publish(tracker.snapshot());
  const result = publishResult(config.pvc, config.terminationLog, tracker, publisher, startedAt, { succeeded, exitCode, verified, attempts: attempt, message }, log);
  await entry.close();
  await publisher.close();
  progressServer?.close();
  return { result, exitCode: succeeded ? 0 : exitCode > 0 ? exitCode : 1 };
}
