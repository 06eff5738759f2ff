// The progress page in headless Chromium: first against a server fed event by event (several PVCs,
// a retry, a failure, the token in the URL), then during a real `dvm migrate --local --listen`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import type { ProgressEvent } from '../contract/events.js';
import { ProgressAggregate } from '../controller/progress/aggregate.js';
import { startProgressServer } from '../controller/progress/server.js';
import { parseMetrics } from './progress-metrics-text.js';

const CHROMIUM = '/usr/bin/chromium';
const DVM = new URL('../dist/controller/cli/dvm.js', import.meta.url).pathname;
/** Where to save a screenshot of the finished page (for people; nothing asserts on it). */
const SCREENSHOT = process.env.DVM_PAGE_SCREENSHOT;

// Records every percent each row's bar showed, from before the first message arrives.
const RECORDER = `
  window.__history = {};
  document.addEventListener('DOMContentLoaded', () => {
    const record = (bar) => {
      const row = bar.closest('tr');
      const key = row.dataset.pvc || row.id;
      const value = Number(bar.getAttribute('aria-valuenow'));
      const list = (window.__history[key] ||= []);
      if (list.at(-1) !== value) list.push(value);
    };
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        if (m.type === 'attributes') record(m.target);
        for (const node of m.addedNodes ?? []) node.querySelectorAll?.('.bar').forEach(record);
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
`;

let browser: Browser;

t.before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
t.teardown(() => browser?.close());

async function openPage(t: Test): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 420 } });
  t.teardown(() => page.close());
  await page.addInitScript(RECORDER);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return { page, errors };
}

function row(page: Page, pvc: string) {
  return page.locator(`tr[data-pvc="${pvc}"]`);
}

function progress(pvc: string, percent: number, fields: Partial<ProgressEvent> = {}): ProgressEvent {
  const totalBytes = 64 * 1024 * 1024;
  return {
    type: 'progress',
    pvc,
    attempt: 1,
    bytes: Math.round((totalBytes * percent) / 100),
    totalBytes,
    percent,
    rateBps: 8 * 1024 * 1024,
    etaSeconds: 30,
    files: Math.round(percent * 3),
    filesTotal: 300,
    elapsedMs: 1000,
    ...fields,
  };
}

t.test('page follows fed events: rows, retry, failure message, final state; token from the URL', async (t) => {
  const token = randomBytes(16).toString('hex');
  const aggregate = new ProgressAggregate(['apps/database', 'apps/uploads']);
  const server = await startProgressServer({ listen: '127.0.0.1:0', aggregate, token });
  t.teardown(() => server.close());
  const { page, errors } = await openPage(t);
  await page.goto(`${server.url}?token=${token}`);
  await page.waitForSelector('#connection[data-connection="live"]');
  t.equal(new URL(page.url()).search, '', 'the token is taken out of the address bar');
  t.equal(await page.locator('tbody tr').count(), 2, 'one row per PVC from the snapshot');
  t.equal(await row(page, 'apps/database').getAttribute('data-state'), 'Pending');
  t.notOk(await page.locator('#final').isVisible(), 'no final state while running');

  const steps: Array<[ProgressEvent['pvc'], number]> = [
    ['apps/database', 20],
    ['apps/uploads', 10],
    ['apps/database', 55],
    ['apps/uploads', 30],
  ];
  for (const [pvc, percent] of steps) {
    aggregate.apply(progress(pvc, percent));
    await page.waitForSelector(`tr[data-pvc="${pvc}"] .bar[aria-valuenow="${percent.toFixed(1)}"]`);
  }
  t.equal(await row(page, 'apps/database').locator('.rate').textContent(), '8.00 MiB/s');
  t.equal(await row(page, 'apps/database').locator('.eta').textContent(), '0:30');
  t.equal(await row(page, 'apps/database').locator('.files').textContent(), '165 / 300');

  aggregate.apply({ type: 'attempt', pvc: 'apps/uploads', attempt: 1, exitCode: 12, reason: 'rsync exit 12: connection reset', retryInMs: 4000 });
  await page.waitForSelector('tr[data-pvc="apps/uploads"][data-state="Retrying"]');
  t.match(await row(page, 'apps/uploads').locator('.message').textContent(), /connection reset — retry in 0:04/);
  aggregate.apply(progress('apps/uploads', 40, { attempt: 2 }));
  await page.waitForSelector('tr[data-pvc="apps/uploads"][data-state="Running"]');
  t.equal(await row(page, 'apps/uploads').locator('.attempts').textContent(), '2');

  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-running.png'), fullPage: true });
  aggregate.apply({
    type: 'result',
    pvc: 'apps/database',
    status: 'Succeeded',
    exitCode: 0,
    bytes: 64 * 1024 * 1024,
    files: 300,
    durationMs: 9000,
    verified: true,
    attempts: 1,
    message: '',
  });
  aggregate.apply({
    type: 'result',
    pvc: 'apps/uploads',
    status: 'Failed',
    exitCode: 23,
    bytes: 0,
    files: 0,
    durationMs: 9000,
    verified: null,
    attempts: 2,
    message: 'rsync exit 23: some files could not be transferred',
  });
  aggregate.finish();
  await page.waitForSelector('#final:not([hidden])');
  t.ok(await page.locator('#final').isVisible());
  t.equal(await page.locator('#final').getAttribute('data-outcome'), 'Failed');
  t.match(await page.locator('#final').textContent(), /Migration failed.*1 of 2 PVCs succeeded, 1 failed/s);
  t.equal(await row(page, 'apps/uploads').getAttribute('data-state'), 'Failed');
  t.equal(await row(page, 'apps/uploads').locator('.message').textContent(), 'rsync exit 23: some files could not be transferred');
  t.ok(await row(page, 'apps/uploads').locator('.message.problem').isVisible(), 'the failure is shown as a problem');
  t.equal(await row(page, 'apps/database').locator('.bar').getAttribute('aria-valuenow'), '100.0');
  t.equal(await row(page, 'apps/database').locator('.message').textContent(), 'verified');
  await page.waitForSelector('#connection[data-connection="closed"]');
  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-failed.png'), fullPage: true });
  const history = await page.evaluate(() => (window as unknown as { __history: Record<string, number[]> }).__history);
  t.same(history['apps/database'], [0, 20, 55, 100]);
  t.same(history['apps/uploads'], [0, 10, 30, 40]);
  t.same(errors, [], 'no errors in the page console');
});

/** A source tree that takes a few seconds at the given bandwidth limit, so the page sees it move. */
function writeSource(dir: string): void {
  mkdirSync(join(dir, 'docs', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'blob.bin'), randomBytes(5 * 1024 * 1024));
  for (let i = 0; i < 120; i++) writeFileSync(join(dir, 'docs', i % 2 ? 'deep' : '', `note-${i}.txt`), `note ${i}\n`.repeat(i));
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

t.test('page during a real local migration: the row and the total advance to 100% and the final state shows', async (t) => {
  if (!existsSync(DVM)) throw new Error(`${DVM} missing: run npx tsc -b first`);
  const root = mkdtempSync(join(tmpdir(), 'dvm-page-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const source = join(root, 'volume');
  const destination = join(root, 'copy');
  writeSource(source);

  const { page, errors } = await openPage(t);
  const child = spawn(process.execPath, [DVM, 'migrate', '--local', source, destination, '--listen', '127.0.0.1:0', '--bwlimit', '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stderr: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr.push(line);
      const match = /progress: (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.stdout.resume();
    child.on('exit', (code) => reject(new Error(`dvm exited ${code} before serving the page:\n${stderr.join('\n')}`)));
  });
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  // Scrape /metrics while the copy runs (the listener goes away with the process).
  const scrapes: number[] = [];
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      try {
        const text = await (await fetch(`${url}metrics`)).text();
        scrapes.push(parseMetrics(text).get('dvm_transferred_bytes_total{namespace="",pvc="volume"}') ?? 0);
      } catch (error) {
        if (!/fetch failed/.test((error as Error).message)) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();

  await page.goto(url);
  await page.waitForSelector('tr[data-pvc="volume"]');
  await page.waitForSelector('#final:not([hidden])', { timeout: 120_000 });
  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });

  t.equal(await exited, 0, 'the migration succeeded');
  scraping = false;
  await scraper;
  const sourceBytes = statSync(join(source, 'blob.bin')).size;
  t.ok(scrapes.length > 0, `/metrics parsed ${scrapes.length} times`);
  t.same(
    scrapes,
    [...scrapes].sort((a, b) => a - b),
    'transferred bytes only grow',
  );
  t.ok(
    scrapes.some((bytes) => bytes > 0),
    'and count the copy',
  );
  t.ok(Math.max(...scrapes) <= sourceBytes * 1.1, 'without over-counting');
  t.equal(sha256(join(destination, 'blob.bin')), sha256(join(source, 'blob.bin')), 'the data arrived');
  t.ok(await page.locator('#final').isVisible());
  t.equal(await page.locator('#final').getAttribute('data-outcome'), 'Succeeded');
  t.match(await page.locator('#final-title').textContent(), 'Migration succeeded');
  t.equal(await row(page, 'volume').getAttribute('data-state'), 'Succeeded');
  t.equal(await page.locator('#total-row').getAttribute('data-state'), 'Succeeded');
  for (const bar of [row(page, 'volume').locator('.bar'), page.locator('#total-row .bar')]) {
    t.equal(await bar.getAttribute('aria-valuenow'), '100.0');
    t.equal(await bar.locator('.fill').evaluate((el) => (el as HTMLElement).style.width), '100%');
  }
  t.match(await row(page, 'volume').locator('.bytes').textContent(), /^5\.\d+ MiB \/ 5\.\d+ MiB$/);

  const history = await page.evaluate(() => (window as unknown as { __history: Record<string, number[]> }).__history);
  for (const key of ['volume', 'total-row']) {
    const seen = history[key] ?? [];
    t.same(
      seen,
      [...seen].sort((a, b) => a - b),
      `${key}: the bar never went back (${seen.join(' → ')})`,
    );
    t.equal(seen.at(-1), 100, `${key}: ends at 100%`);
    t.ok(
      seen.some((p) => p > 0 && p < 100),
      `${key}: showed the copy in between`,
    );
  }
  t.same(errors, [], 'no errors in the page console');
});
