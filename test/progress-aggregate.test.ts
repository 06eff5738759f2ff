import t from 'tap';
import type { AgentEvent, ProgressEvent } from '../contract/events.js';
import { ProgressAggregate, type ProgressChange } from '../controller/progress/aggregate.js';

function progress(pvc: string, fields: Partial<ProgressEvent>): ProgressEvent {
  return {
    type: 'progress',
    pvc,
    attempt: 1,
    bytes: 0,
    totalBytes: 1000,
    percent: 0,
    rateBps: 100,
    etaSeconds: 10,
    files: 0,
    filesTotal: 10,
    elapsedMs: 0,
    ...fields,
  };
}

t.test('known PVCs start Pending and totals cover them', async (t) => {
  const agg = new ProgressAggregate(['ns/a', 'ns/b']);
  const snap = agg.snapshot();
  t.same(
    snap.pvcs.map((p) => [p.pvc, p.namespace, p.name, p.state]),
    [
      ['ns/a', 'ns', 'a', 'Pending'],
      ['ns/b', 'ns', 'b', 'Pending'],
    ],
  );
  t.equal(snap.totals.state, 'Pending');
  t.equal(snap.totals.pvcs, 2);
  t.equal(snap.finished, false);
  t.same(JSON.parse(JSON.stringify(snap)), snap, 'snapshot is plain JSON');
});

t.test('progress never goes backwards, also across attempts', async (t) => {
  const agg = new ProgressAggregate(['local']);
  const changes: ProgressChange[] = [];
  agg.on('change', (c) => changes.push(c));
  agg.apply(progress('local', { bytes: 400, percent: 40, files: 4 }));
  agg.apply({ type: 'attempt', pvc: 'local', attempt: 1, exitCode: 12, reason: 'connection reset', retryInMs: 2000 });
  let p = agg.snapshot().pvcs[0]!;
  t.equal(p.state, 'Retrying');
  t.equal(p.message, 'connection reset');
  t.equal(p.exitCode, 12);
  agg.apply(progress('local', { attempt: 2, bytes: 100, percent: 10, files: 1 }));
  p = agg.snapshot().pvcs[0]!;
  t.equal(p.state, 'Running');
  t.equal(p.bytes, 400, 'bytes kept');
  t.equal(p.percent, 40, 'percent kept');
  t.equal(p.files, 4, 'files kept');
  t.equal(p.attempt, 2);
  t.equal(p.attempts, 2);
  t.equal(p.message, '', 'retry message cleared once the new attempt runs');
  agg.apply(progress('local', { attempt: 2, bytes: 900, percent: 100, files: 9 }));
  t.ok(agg.snapshot().pvcs[0]!.percent < 100, '100% is reserved for success');
  t.equal(changes.length, 4, 'one change per event');
  t.same(changes[1]!.event.type, 'attempt');
});

t.test('result settles the state; later events do not reopen it', async (t) => {
  const agg = new ProgressAggregate(['ns/a', 'ns/b']);
  agg.apply(progress('ns/a', { bytes: 500, percent: 50 }));
  agg.apply({
    type: 'result',
    pvc: 'ns/a',
    status: 'Succeeded',
    exitCode: 0,
    bytes: 1000,
    files: 10,
    durationMs: 1500,
    verified: true,
    attempts: 1,
    message: '',
  });
  agg.apply(progress('ns/a', { bytes: 10, percent: 1 }));
  const a = agg.snapshot().pvcs[0]!;
  t.equal(a.state, 'Succeeded');
  t.equal(a.percent, 100);
  t.equal(a.bytes, 1000);
  t.equal(a.verified, true);
  t.equal(a.etaSeconds, 0);
  t.equal(agg.snapshot().totals.state, 'Running', 'b still pending');
  agg.apply({ type: 'attempt', pvc: 'ns/b', attempt: 1, exitCode: 23, reason: 'partial transfer', retryInMs: null });
  agg.apply({
    type: 'result',
    pvc: 'ns/b',
    status: 'Failed',
    exitCode: 23,
    bytes: 0,
    files: 0,
    durationMs: 100,
    verified: null,
    attempts: 1,
    message: 'rsync exit 23: partial transfer',
  });
  const snap = agg.snapshot();
  t.equal(snap.pvcs[1]!.state, 'Failed');
  t.equal(snap.pvcs[1]!.message, 'rsync exit 23: partial transfer');
  t.equal(snap.totals.state, 'Failed');
  t.equal(snap.totals.succeeded, 1);
  t.equal(snap.totals.failed, 1);
  t.ok(snap.totals.percent < 100);
  t.equal(snap.totals.etaSeconds, null, 'no ETA for a migration that ended failed');
});

t.test('totals: bytes summed, percent weighted by size once sizes are known, 100 only when all succeed', async (t) => {
  let now = 1000;
  const agg = new ProgressAggregate(['a', 'b'], { now: () => now });
  agg.apply(progress('a', { bytes: 300, totalBytes: 3000, percent: 10, rateBps: 50, etaSeconds: 60 }));
  t.equal(agg.totals().etaSeconds, null, 'unknown while b has not started');
  agg.apply(progress('b', { bytes: 500, totalBytes: 1000, percent: 50, rateBps: 70, etaSeconds: 7 }));
  now = 4000;
  const totals = agg.totals();
  t.equal(totals.bytes, 800);
  t.equal(totals.totalBytes, 4000);
  t.equal(totals.percent, (10 * 3000 + 50 * 1000) / 4000);
  t.equal(totals.rateBps, 120);
  t.equal(totals.etaSeconds, 60);
  t.equal(totals.elapsedMs, 3000);
  for (const pvc of ['a', 'b']) {
    agg.apply({ type: 'result', pvc, status: 'Succeeded', exitCode: 0, bytes: 1, files: 1, durationMs: 1, verified: null, attempts: 1, message: '' });
  }
  t.equal(agg.totals().percent, 100);
  t.equal(agg.totals().state, 'Succeeded');
});

t.test('an unknown PVC is added; finish is idempotent and freezes the state', async (t) => {
  let now = 0;
  const agg = new ProgressAggregate([], { now: () => now });
  const finished: unknown[] = [];
  agg.on('finished', (s) => finished.push(s));
  agg.apply(progress('ns/late', { bytes: 5 }));
  t.equal(agg.snapshot().pvcs.length, 1);
  now = 50;
  agg.finish('aborted by SIGINT');
  agg.finish();
  now = 80;
  agg.apply(progress('ns/late', { bytes: 50 }) as AgentEvent);
  const snap = agg.snapshot();
  t.equal(finished.length, 1);
  t.equal(snap.finished, true);
  t.equal(snap.message, 'aborted by SIGINT');
  t.equal(snap.pvcs[0]!.bytes, 5, 'events after finish are ignored');
  t.equal(snap.totals.elapsedMs, 50, 'elapsed frozen at finish');
});

t.test('track() starts a PVC over for a new run; forget() removes it (an aggregate over many runs)', async (t) => {
  const agg = new ProgressAggregate([]);
  agg.track(['ns/a']);
  agg.apply({ type: 'result', pvc: 'ns/a', status: 'Succeeded', exitCode: 0, bytes: 10, files: 1, durationMs: 1, verified: null, attempts: 1, message: '' });
  t.equal(agg.snapshot().pvcs[0]!.state, 'Succeeded');
  agg.track(['ns/a', 'ns/b']);
  t.same(
    agg.snapshot().pvcs.map((p) => [p.pvc, p.state, p.bytes]),
    [
      ['ns/a', 'Pending', 0],
      ['ns/b', 'Pending', 0],
    ],
    'a new run of ns/a starts from Pending',
  );
  agg.apply(progress('ns/a', { bytes: 5, percent: 50 }));
  t.equal(agg.snapshot().pvcs[0]!.state, 'Running', 'and takes events again');
  agg.forget(['ns/a']);
  t.same(
    agg.snapshot().pvcs.map((p) => p.pvc),
    ['ns/b'],
  );
});
