// What every fault scenario checks at the end: the copy succeeded, the client's events kept their
// promises, the destination equals the source, and no secret leaked into any output.
import type { Test } from 'tap';
import type { ResultEvent } from '../../../contract/events.js';
import { compareTrees, formatDifferences, generateTree, type GeneratedTree } from '../../support/tree.js';
import { eventStreamProblems, leakedSecrets } from './checks.js';
import type { FaultRig, NsClient } from './fault-rig.js';

const MiB = 1024 * 1024;

/** A copy big enough to interrupt: one large file (most of the bytes) and a few hundred small ones. */
export function generateLargeSource(root: string, bigFileBytes = 48 * MiB): Promise<GeneratedTree> {
  return generateTree(root, { files: 300, bigFileBytes, maxFileBytes: 16 * 1024 });
}

export interface Finished {
  exitCode: number | null;
  result: ResultEvent | undefined;
}

/** Asserts success + identical trees + a well-formed event stream; returns the result event. */
export async function expectCompleteCopy(
  t: Test,
  what: string,
  client: NsClient,
  finished: Finished,
  source: string,
  destination: string,
): Promise<ResultEvent | undefined> {
  const { exitCode, result } = finished;
  t.equal(exitCode, 0, `${what}: the client exits 0 (${tail(client)})`);
  t.equal(result?.status, 'Succeeded', `${what}: result is Succeeded (${result?.message})`);
  t.same(eventStreamProblems(client.events), [], `${what}: progress never went backwards, one result event`);
  const attemptEvents = client.events.filter((event) => event.type === 'attempt').length;
  t.equal(result?.attempts, attemptEvents + 1, `${what}: attempts counted (${result?.attempts} = ${attemptEvents} failed + 1)`);
  const lastProgress = client.progress().at(-1);
  t.equal(lastProgress?.percent, 100, `${what}: progress reached 100`);
  t.equal(formatDifferences(await compareTrees(source, destination)), '', `${what}: destination identical to source`);
  return result;
}

export function expectNoSecrets(t: Test, rig: FaultRig): void {
  const output = rig.capturedOutput();
  t.ok(output.length > 0, 'output was captured');
  t.same(leakedSecrets(output, rig.secrets()), [], 'no private key or proxy password in any log line or event');
}

export function tail(client: NsClient, lines = 3): string {
  return client.stderr
    .slice(-lines)
    .map((line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; reason?: string };
        return [entry.msg, entry.reason].filter(Boolean).join(': ');
      } catch {
        return line;
      }
    })
    .join(' | ');
}
