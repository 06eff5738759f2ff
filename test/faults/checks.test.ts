// The fault scenarios trust these two checks; prove they catch what they claim to.
import t from 'tap';
import type { AgentEvent } from '../../contract/events.js';
import { eventStreamProblems, leakedSecrets } from './support/checks.js';
import { pemSecrets } from './support/fault-rig.js';

const progress = (attempt: number, bytes: number, percent: number): AgentEvent => ({
  type: 'progress',
  pvc: 'p',
  attempt,
  bytes,
  totalBytes: 1000,
  percent,
  rateBps: 0,
  etaSeconds: null,
  files: 0,
  filesTotal: 10,
  elapsedMs: 0,
});
const attempt = (n: number): AgentEvent => ({ type: 'attempt', pvc: 'p', attempt: n, exitCode: 12, reason: 'x', retryInMs: 100 });
const result: AgentEvent = {
  type: 'result',
  pvc: 'p',
  status: 'Succeeded',
  exitCode: 0,
  bytes: 1000,
  files: 10,
  durationMs: 1,
  verified: null,
  attempts: 2,
  message: '',
};

t.test('eventStreamProblems', async (t) => {
  t.same(eventStreamProblems([progress(1, 10, 1), attempt(1), progress(2, 10, 1), progress(2, 1000, 100), result]), [], 'a good stream');
  t.match(eventStreamProblems([progress(1, 500, 50), progress(2, 400, 50), result]), [/bytes 500 -> 400/], 'bytes going backwards');
  t.match(eventStreamProblems([progress(1, 500, 50), progress(1, 500, 40), result]), [/percent 50 -> 40/], 'percent going backwards');
  t.match(eventStreamProblems([progress(1, 1001, 50), result]), [/over totalBytes/], 'over-counting');
  t.match(eventStreamProblems([progress(1, 1, 1)]), [/exactly one result event, saw 0/], 'no result');
  t.match(eventStreamProblems([result, result]), [/after the result/, /saw 2/], 'two results');
  t.match(eventStreamProblems([attempt(2), attempt(1), result]), [/attempt event 1 after attempt 2/], 'attempts out of order');
});

t.test('leakedSecrets and pemSecrets', async (t) => {
  const pem = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(64)}\n${'B'.repeat(40)}\n-----END PRIVATE KEY-----\n`;
  const secrets = [...pemSecrets(pem), 'pw-secret-1'];
  t.same(leakedSecrets('all clean here', secrets), []);
  t.equal(leakedSecrets(`log line ${'B'.repeat(40)} more`, secrets).length, 1, 'one PEM line is enough to count');
  t.equal(leakedSecrets('{"url":"http://u:pw-secret-1@h:1"}', secrets).length, 1, 'the password');
  t.notOk(
    leakedSecrets('x', secrets).some((s) => s.length > 7),
    'reports only a short prefix',
  );
});
