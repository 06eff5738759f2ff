// A source-PVC writer who plants symlinks to the agents' own key files (or to the directory that
// holds them) gets symlinks in the destination, never the keys' content: through a real
// `dvm migrate --local`, with --verify. The rsync options that would follow links are refused before
// anything runs (contract/rsync-settings.ts).
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { walk } from './support/tree.js';
import { generateTree } from './support/tree.js';

// DVM_CLI: another build's dvm.js (e.g. one patched to follow links, to see this test catch it).
const DVM = process.env.DVM_CLI ?? resolve(import.meta.dirname, '../dist/controller/cli/dvm.js');
const work = mkdtempSync(join(tmpdir(), 'dvm-links-'));
const temp = join(work, 'tmp');
mkdirSync(temp, { mode: 0o700 });
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function runDvm(args: string[], whileRunning?: () => void): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [DVM, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: temp } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = whileRunning ? setInterval(whileRunning, 2) : undefined;
    child.on('close', (code) => {
      clearInterval(timer);
      done({ code: code ?? 1, stdout, stderr });
    });
  });
}

t.test("symlinks to the agents' keys arrive as symlinks, not as the keys", async (t) => {
  const source = join(work, 'source');
  const destination = join(work, 'destination');
  await generateTree(source, { files: 20 });
  // The directory that will hold the run's keys (TMPDIR), linked before the run...
  symlinkSync(temp, join(source, 'keys-dir'));
  // ...and each key file, linked the moment the run's temp directory appears (before rsync starts:
  // the agents take far longer to start than this poll).
  const planted = new Map<string, string>();
  const keys: string[] = [];
  const plant = (): void => {
    if (planted.size > 0) return;
    const [dir] = readdirSync(temp).filter((name) => name.startsWith('dvm-local-'));
    if (!dir) return;
    for (const name of ['client.key', 'server.key']) {
      const target = join(temp, dir, name);
      symlinkSync(target, join(source, `${name}-link`));
      planted.set(`${name}-link`, target);
    }
  };
  const readKeys = (): void => {
    for (const target of planted.values()) {
      try {
        const text = readFileSync(target, 'utf8');
        if (/PRIVATE KEY/.test(text) && !keys.includes(text)) keys.push(text);
      } catch {
        /* not written yet, or gone */
      }
    }
  };
  const run = await runDvm(['migrate', '--local', source, destination, '--verify'], () => {
    plant();
    readKeys();
  });
  t.equal(run.code, 0, `copied and verified (${run.stderr.trim().split('\n').slice(-1)[0]})`);
  t.equal(planted.size, 2, 'the key links were planted during the run');
  t.equal(keys.length, 2, 'and the keys they point to were seen');

  for (const [name, target] of [...planted, ['keys-dir', temp] as [string, string]]) {
    const stat = lstatSync(join(destination, name), { throwIfNoEntry: false });
    t.ok(stat?.isSymbolicLink(), `${name} arrived as a symlink`);
    t.equal(stat?.isSymbolicLink() ? readlinkSync(join(destination, name)) : null, target, `${name} points where it pointed`);
  }
  const entries = await walk(destination);
  const regular = [...entries].filter(([, entry]) => entry.type === 'file').map(([path]) => path);
  const holding = regular.filter((path) => keys.some((key) => readFileSync(join(destination, path), 'utf8').includes(key.trim().split('\n')[1]!)));
  t.same(holding, [], 'no file in the destination holds a key');
  t.notOk(
    [...entries.keys()].some((path) => /dvm-local-|\.key$/.test(path) && entries.get(path)?.type !== 'symlink'),
    'nothing of the temp directory was copied',
  );
});

t.test('options that follow symlinks are refused before anything runs', async (t) => {
  const source = join(work, 'source');
  for (const extra of ['--copy-links', '-L', '-zL', '--copy-unsafe-links', '--copy-dirlinks', '-k', '--keep-dirlinks', '-K']) {
    const run = await runDvm(['migrate', '--local', source, join(work, 'never'), `--rsync-extras=${extra}`]);
    t.equal(run.code, 2, `${extra}: exit 2`);
    t.match(
      run.stderr.trim(),
      /^dvm: --rsync-extras \(rsync_opt_extras\): .*(copy|keep)-(unsafe-)?(links|dirlinks)/,
      `${extra}: one line naming the setting and why (${run.stderr.trim()})`,
    );
    t.equal(run.stderr.trim().split('\n').length, 1, `${extra}: one line`);
  }
  t.same(
    readdirSync(temp).filter((name) => name.startsWith('dvm-local-')),
    [],
    'no temp material left behind',
  );
});
