// CLI views: plain lines (throttled, readable in CI logs) and JSON lines.
import { PassThrough } from 'node:stream';
import t from 'tap';
import type { AgentEvent, ProgressEvent } from '../contract/events.js';
import { ProgressAggregate } from '../controller/progress/aggregate.js';
import { startProgressView } from '../controller/progress/view.js';

function progress(pvc: string, bytes: number, fields: Partial<ProgressEvent> = {}): ProgressEvent {
  return {
    type: 'progress',
    pvc,
    attempt: 1,
    bytes,
    totalBytes: 10 * 1024 * 1024,
    percent: (bytes / (10 * 1024 * 1024)) * 100,
    rateBps: 2 * 1024 * 1024,
    etaSeconds: 42,
    files: 3,
    filesTotal: 12,
    elapsedMs: 1000,
    ...fields,
  };
}

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, lines: () => text.split('\n').filter((line) => line !== '') };
}

t.test('plain: state changes at once, progress at most once per interval per PVC, summary at the end', async (t) => {
  let now = 0;
  const agg = new ProgressAggregate(['ns/data'], { now: () => now });
  const out = capture();
  const view = startProgressView(agg, { mode: 'plain', stream: out.stream as unknown as NodeJS.WriteStream, now: () => now });
  agg.apply(progress('ns/data', 1024 * 1024));
  for (let i = 2; i <= 5; i++) agg.apply(progress('ns/data', i * 1024 * 1024));
  t.equal(out.lines().length, 1, 'the burst within one second printed one line');
  t.equal(out.lines()[0], 'ns/data: Running 10.0% 1.00 MiB/10.0 MiB at 2.00 MiB/s, ETA 0:42, files 3/12, attempt 1');
  now = 1000;
  agg.apply(progress('ns/data', 6 * 1024 * 1024));
  t.match(out.lines()[1], /^ns\/data: Running 60\.0% 6\.00 MiB/, 'a second later the next one prints');
  agg.apply(progress('ns/data', 7 * 1024 * 1024));
  agg.apply({ type: 'attempt', pvc: 'ns/data', attempt: 1, exitCode: 12, reason: 'connection reset', retryInMs: 4000 });
  t.equal(out.lines()[2], 'ns/data: Retrying after attempt 1 exited 12: connection reset, retry in 0:04', 'attempts print at once');
  agg.apply(progress('ns/data', 8 * 1024 * 1024, { attempt: 2 }));
  t.match(out.lines()[3], /Running 80\.0%.*attempt 2$/, 'back to Running prints at once');
  agg.apply({
    type: 'result',
    pvc: 'ns/data',
    status: 'Succeeded',
    exitCode: 0,
    bytes: 10 * 1024 * 1024,
    files: 12,
    durationMs: 65_000,
    verified: true,
    attempts: 2,
    message: '',
  });
  t.equal(out.lines()[4], 'ns/data: Succeeded 100.0% 10.0 MiB sent, 12 files in 1:05, 2 attempts, verified');
  now = 70_000;
  agg.finish();
  t.equal(out.lines()[5], 'finished: Succeeded: 1 of 1 PVC succeeded, 10.0 MiB sent, 12 files, 2 attempts in 1:10');
  view.stop();
  t.equal(out.lines().length, 6, 'the line held back at 7 MiB was superseded, not printed late');
  t.notOk(
    out.lines().some((line) => line.includes('\x1b')),
    'no terminal escapes',
  );
});

t.test('plain: several PVCs get a total line; stop() prints what was held back; failures show their message', async (t) => {
  const now = 0;
  const agg = new ProgressAggregate(['a', 'b']);
  const out = capture();
  const view = startProgressView(agg, { mode: 'plain', stream: out.stream as unknown as NodeJS.WriteStream, now: () => now, intervalMs: 60_000 });
  agg.apply(progress('a', 1024));
  agg.apply(progress('b', 2048));
  agg.apply(progress('a', 4096));
  t.same(
    out.lines().map((line) => line.split(':')[0]),
    ['a', 'total', 'b'],
  );
  agg.apply({
    type: 'result',
    pvc: 'b',
    status: 'Failed',
    exitCode: 23,
    bytes: 2048,
    files: 1,
    durationMs: 10,
    verified: null,
    attempts: 1,
    message: 'rsync exit 23: permission denied',
  });
  t.equal(out.lines().at(-1), 'b: Failed after 1 attempt (exit 23): rsync exit 23: permission denied');
  view.stop();
  t.match(out.lines().slice(-2).join('\n'), /^a: Running .* 4\.00 KiB\/10\.0 MiB/m, 'held-back progress flushed on stop');
  t.match(out.lines().at(-1), /^total: Running .*1 running, 1 failed/);
});

t.test('json: each event is one JSON line, then a summary line', async (t) => {
  const agg = new ProgressAggregate(['ns/a']);
  const out = capture();
  const view = startProgressView(agg, { mode: 'json', stream: out.stream as unknown as NodeJS.WriteStream });
  const events: AgentEvent[] = [
    progress('ns/a', 100),
    progress('ns/a', 200),
    { type: 'attempt', pvc: 'ns/a', attempt: 1, exitCode: 30, reason: 'timeout', retryInMs: 100 },
    { type: 'result', pvc: 'ns/a', status: 'Succeeded', exitCode: 0, bytes: 300, files: 3, durationMs: 10, verified: null, attempts: 2, message: '' },
  ];
  for (const event of events) agg.apply(event);
  agg.finish();
  view.stop();
  agg.emit('change', { event: progress('ns/a', 1), pvc: agg.snapshot().pvcs[0]!, totals: agg.totals() });
  const parsed = out.lines().map((line) => JSON.parse(line) as { type: string });
  t.same(parsed.slice(0, 4), events, 'the agent events, unchanged');
  t.equal(parsed.length, 5, 'nothing after stop()');
  const summary = parsed[4] as unknown as { type: string; finished: boolean; totals: { state: string; bytes: number } };
  t.equal(summary.type, 'summary');
  t.equal(summary.finished, true);
  t.equal(summary.totals.state, 'Succeeded');
  t.equal(summary.totals.bytes, 300);
});

t.test('auto picks plain when the stream is not a TTY; bars draw on a TTY', async (t) => {
  const agg = new ProgressAggregate(['x']);
  const plain = capture();
  const view = startProgressView(agg, { mode: 'auto', stream: plain.stream as unknown as NodeJS.WriteStream });
  agg.apply(progress('x', 1));
  view.stop();
  t.match(plain.lines()[0], /^x: Running/);

  const tty = capture();
  Object.assign(tty.stream, { isTTY: true, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, clearScreenDown: () => true });
  const agg2 = new ProgressAggregate(['ns/vol']);
  const bars = startProgressView(agg2, { mode: 'auto', stream: tty.stream as unknown as NodeJS.WriteStream });
  agg2.apply(progress('ns/vol', 5 * 1024 * 1024));
  agg2.apply({
    type: 'result',
    pvc: 'ns/vol',
    status: 'Succeeded',
    exitCode: 0,
    bytes: 10 * 1024 * 1024,
    files: 12,
    durationMs: 1000,
    verified: null,
    attempts: 1,
    message: '',
  });
  agg2.finish();
  bars.stop();
  const text = tty.lines().join('\n');
  t.match(text, /ns\/vol\s+\u2588+ 100\.0% \|/, 'a full bar for the PVC');
  t.match(text, /total\s+\u2588+ 100\.0% \|/, 'and for the total');
  t.match(text, /\| ETA\s+0:00 \| attempt 1 \| Succeeded/, 'ETA as m:ss, the attempt and the state');
  t.match(text, /finished: Succeeded/);
});
