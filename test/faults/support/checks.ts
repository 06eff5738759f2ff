// Pure checks shared by the fault scenarios: the event stream's promises and the secret grep.
import type { AgentEvent } from '../../../contract/events.js';

/** Problems with a client's event stream; empty when it keeps every promise of the contract. */
export function eventStreamProblems(events: readonly AgentEvent[]): string[] {
  const problems: string[] = [];
  let lastBytes = -1;
  let lastPercent = -1;
  let lastAttempt = 0;
  let results = 0;
  events.forEach((event, index) => {
    if (results > 0) problems.push(`event #${index} (${event.type}) after the result`);
    if (event.type === 'progress') {
      if (event.bytes < lastBytes) problems.push(`progress went backwards: bytes ${lastBytes} -> ${event.bytes} (event #${index})`);
      if (event.percent < lastPercent) problems.push(`progress went backwards: percent ${lastPercent} -> ${event.percent} (event #${index})`);
      if (event.bytes > event.totalBytes) problems.push(`bytes ${event.bytes} over totalBytes ${event.totalBytes} (event #${index})`);
      if (event.percent > 100) problems.push(`percent ${event.percent} over 100`);
      if (event.attempt < lastAttempt) problems.push(`attempt number went backwards: ${lastAttempt} -> ${event.attempt}`);
      lastBytes = event.bytes;
      lastPercent = event.percent;
      lastAttempt = Math.max(lastAttempt, event.attempt);
    } else if (event.type === 'attempt') {
      if (event.attempt < lastAttempt) problems.push(`attempt event ${event.attempt} after attempt ${lastAttempt}`);
      lastAttempt = Math.max(lastAttempt, event.attempt);
    } else {
      results += 1;
    }
  });
  if (results !== 1) problems.push(`expected exactly one result event, saw ${results}`);
  return problems;
}

/** Secrets found in the captured text (each reported by a short, safe prefix). */
export function leakedSecrets(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => secret.length >= 8 && text.includes(secret)).map((secret) => `${secret.slice(0, 6)}…`);
}
