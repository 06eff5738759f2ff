// The fault-suite topology: three network namespaces (src, proxy, dst) joined by veth pairs on private
// test subnets that exist only inside them. With `route: 'proxy-only'` the proxy host does not forward
// packets, so the only way from src to dst is a proxy process on the proxy host; with 'routed' the
// proxy host is a plain router. Names are unique per run; teardown always runs (also on process exit).
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const PREFIX = 'dvmt';

export interface Endpoint {
  ns: string;
  dev: string;
  address: string;
}

export interface Link {
  name: 'src-proxy' | 'proxy-dst';
  a: Endpoint;
  b: Endpoint;
}

export interface Impairment {
  lossPercent?: number;
  delayMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Topology {
  id: string;
  /** Namespace names. */
  src: string;
  proxy: string;
  dst: string;
  /** Addresses: src host, the proxy host as src sees it, the proxy host as dst sees it, dst host. */
  addresses: { src: string; proxyFromSrc: string; proxyFromDst: string; dst: string };
  /** CIDRs of the two links (for tinyproxy's Allow). */
  subnets: { srcProxy: string; proxyDst: string };
  links: { srcProxy: Link; proxyDst: Link };
  route: 'proxy-only' | 'routed';
  srcLink: 'veth' | 'userspace';
  exec(ns: string, command: string, args?: string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  spawn(ns: string, command: string, args?: string[], options?: SpawnOptions): ChildProcess;
  linkDown(link: Link): Promise<void>;
  linkUp(link: Link): Promise<void>;
  /** Loss/delay in both directions: the userspace link's own, else tc netem on both ends (throws
   * NetemUnavailableError when the kernel lacks sch_netem). */
  impair(link: Link, impairment: Impairment): Promise<void>;
  clearImpairment(link: Link): Promise<void>;
  /** Bytes the endpoint's device has sent so far (its kernel counter). */
  txBytes(endpoint: Endpoint): Promise<number>;
  /** Opens a TCP connection from inside `ns` (optionally via an HTTP CONNECT proxy URL) and returns
   * what the far end sent before closing, or the error. */
  dial(ns: string, host: string, port: number, options?: { proxy?: string; timeoutMs?: number; send?: string }): Promise<DialResult>;
  teardown(): Promise<void>;
}

export interface DialResult {
  ok: boolean;
  data: string;
  error?: string;
}

/** Runs inside the namespace as `node -e`: argv = host port proxyUrl|'' timeoutMs send. */
const DIAL_SCRIPT = `
const net = require('net');
const [host, port, proxy, timeoutMs, send] = process.argv.slice(1);
const done = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
setTimeout(() => done({ ok: false, data, error: 'timeout' }), Number(timeoutMs));
let data = '';
let tunneled = !proxy;
const target = proxy ? new URL(proxy) : null;
const socket = net.connect({ host: target ? target.hostname : host, port: target ? Number(target.port || 80) : Number(port) });
socket.setEncoding('latin1');
socket.on('connect', () => {
  if (!target) { if (send) socket.write(send); return; }
  const auth = target.username ? 'Proxy-Authorization: Basic ' + Buffer.from(decodeURIComponent(target.username) + ':' + decodeURIComponent(target.password)).toString('base64') + '\\r\\n' : '';
  socket.write('CONNECT ' + host + ':' + port + ' HTTP/1.1\\r\\nHost: ' + host + ':' + port + '\\r\\n' + auth + '\\r\\n');
});
socket.on('data', (chunk) => {
  data += chunk;
  if (!tunneled) {
    const end = data.indexOf('\\r\\n\\r\\n');
    if (end < 0) return;
    const status = data.split('\\r\\n')[0];
    if (!/^HTTP\\/1\\.[01] 200/.test(status)) done({ ok: false, data: '', error: 'proxy: ' + status });
    tunneled = true; data = data.slice(end + 4);
    if (send) socket.write(send);
  }
});
socket.on('end', () => done({ ok: true, data }));
socket.on('error', (e) => done({ ok: false, data, error: e.code || e.message }));
`;

export class NetemUnavailableError extends Error {}

export interface TopologyOptions {
  route?: 'proxy-only' | 'routed';
  /** 'userspace': the src-proxy link is a pair of TUN devices joined by test/support/impair-link.py,
   * whose loss/delay impair() sets (for kernels without sch_netem; needs python3). */
  srcLink?: 'veth' | 'userspace';
}

const IMPAIR_LINK_SCRIPT = fileURLToPath(new URL('./impair-link.py', import.meta.url));

/** Whether this kernel can do tc netem (probed once in a scratch namespace). */
let netemProbe: boolean | undefined;
export function netemAvailable(): boolean {
  if (netemProbe !== undefined) return netemProbe;
  const ns = `${PREFIX}-probe-${process.pid.toString(36)}`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { stdio: 'ignore' });
    netemProbe = true;
  } catch {
    netemProbe = false;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* never made */
    }
  }
  return netemProbe;
}

export function python3Available(): boolean {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Starts the userspace link and resolves once both TUN devices exist. */
function startUserspaceLink(devA: string, devB: string): Promise<ChildProcess> {
  return new Promise((resolveLink, reject) => {
    const child = spawn('python3', [IMPAIR_LINK_SCRIPT, devA, devB], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdout?.setEncoding('utf8').once('data', (chunk: string) => {
      if (chunk.startsWith('ready')) resolveLink(child);
      else reject(new Error(`impair-link.py: ${chunk}${stderr}`));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`impair-link.py exited ${code}: ${stderr.trim()}`)));
  });
}

async function ip(...args: string[]): Promise<void> {
  try {
    await execFileAsync('ip', args);
  } catch (error) {
    throw new Error(`ip ${args.join(' ')}: ${((error as { stderr?: string }).stderr ?? String(error)).trim()}`);
  }
}

/** Pure: the commands that build the topology (each an `ip` argv). */
export function topologyCommands(
  names: { src: string; proxy: string; dst: string; id: string },
  route: 'proxy-only' | 'routed',
  srcLink: 'veth' | 'userspace' = 'veth',
): string[][] {
  const { src, proxy, dst, id } = names;
  const inNs = (ns: string, ...args: string[]): string[] => ['netns', 'exec', ns, 'ip', ...args];
  const commands: string[][] = [
    ['netns', 'add', src],
    ['netns', 'add', proxy],
    ['netns', 'add', dst],
    // veth ends are created straight inside the namespaces: nothing ever appears in the root namespace.
    // The userspace link's TUN devices are made unaddressed by impair-link.py and moved here.
    srcLink === 'veth'
      ? ['link', 'add', `${id}sp`, 'netns', src, 'type', 'veth', 'peer', 'name', `${id}ps`, 'netns', proxy]
      : ['link', 'set', 'dev', `${id}sp`, 'netns', src],
    ...(srcLink === 'veth' ? [] : [['link', 'set', 'dev', `${id}ps`, 'netns', proxy]]),
    ['link', 'add', `${id}pd`, 'netns', proxy, 'type', 'veth', 'peer', 'name', `${id}dp`, 'netns', dst],
    inNs(src, 'addr', 'add', '10.231.1.10/24', 'dev', `${id}sp`),
    inNs(proxy, 'addr', 'add', '10.231.1.1/24', 'dev', `${id}ps`),
    inNs(proxy, 'addr', 'add', '10.231.2.1/24', 'dev', `${id}pd`),
    inNs(dst, 'addr', 'add', '10.231.2.10/24', 'dev', `${id}dp`),
  ];
  for (const [ns, dev] of [
    [src, `${id}sp`],
    [proxy, `${id}ps`],
    [proxy, `${id}pd`],
    [dst, `${id}dp`],
  ] as const) {
    commands.push(inNs(ns, 'link', 'set', 'lo', 'up'), inNs(ns, 'link', 'set', dev, 'up'));
  }
  if (route === 'routed') {
    commands.push(inNs(src, 'route', 'add', 'default', 'via', '10.231.1.1'));
    commands.push(inNs(dst, 'route', 'add', 'default', 'via', '10.231.2.1'));
  }
  return commands;
}

/** Deletes namespaces left by test processes that no longer exist (a crashed run). */
export function removeStaleNamespaces(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const match = /^(dvmt-([0-9a-z]+)p[0-9a-f]+-(src|proxy|dst))\b/.exec(line);
    if (!match) continue;
    const pid = parseInt(match[2] as string, 36);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) deleteNamespaceSync(match[1] as string);
  }
}

function deleteNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const pid of pids)
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
  } catch {
    /* namespace already gone */
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

export async function createTopology(options: TopologyOptions = {}): Promise<Topology> {
  removeStaleNamespaces();
  const route = options.route ?? 'proxy-only';
  const srcLink = options.srcLink ?? 'veth';
  // pid (base 36) + random: unique per run and parallel test file, and ≤ 15 chars for device names.
  const id = `${process.pid.toString(36)}p${randomBytes(2).toString('hex')}`;
  const names = { id, src: `${PREFIX}-${id}-src`, proxy: `${PREFIX}-${id}-proxy`, dst: `${PREFIX}-${id}-dst` };
  let tornDown = false;
  let userspaceLink: ChildProcess | undefined;
  const teardownSync = (): void => {
    if (tornDown) return;
    tornDown = true;
    userspaceLink?.kill('SIGKILL');
    for (const ns of [names.src, names.proxy, names.dst]) deleteNamespaceSync(ns);
  };
  process.on('exit', teardownSync);

  try {
    if (srcLink === 'userspace') userspaceLink = await startUserspaceLink(`${id}sp`, `${id}ps`);
    for (const command of topologyCommands(names, route, srcLink)) await ip(...command);
    if (route === 'routed') {
      await execFileAsync('ip', ['netns', 'exec', names.proxy, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    }
  } catch (error) {
    teardownSync();
    process.off('exit', teardownSync);
    throw error;
  }

  const links = {
    srcProxy: {
      name: 'src-proxy',
      a: { ns: names.src, dev: `${id}sp`, address: '10.231.1.10' },
      b: { ns: names.proxy, dev: `${id}ps`, address: '10.231.1.1' },
    } as Link,
    proxyDst: {
      name: 'proxy-dst',
      a: { ns: names.proxy, dev: `${id}pd`, address: '10.231.2.1' },
      b: { ns: names.dst, dev: `${id}dp`, address: '10.231.2.10' },
    } as Link,
  };

  const exec = async (ns: string, command: string, args: string[] = [], opts: { timeoutMs?: number } = {}): Promise<ExecResult> => {
    try {
      const { stdout, stderr } = await execFileAsync('ip', ['netns', 'exec', ns, command, ...args], {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number | string; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
    }
  };
  const tc = async (endpoint: Endpoint, ...args: string[]): Promise<ExecResult> => exec(endpoint.ns, 'tc', args);

  return {
    id,
    src: names.src,
    proxy: names.proxy,
    dst: names.dst,
    addresses: { src: '10.231.1.10', proxyFromSrc: '10.231.1.1', proxyFromDst: '10.231.2.1', dst: '10.231.2.10' },
    subnets: { srcProxy: '10.231.1.0/24', proxyDst: '10.231.2.0/24' },
    links,
    route,
    srcLink,
    exec,
    spawn: (ns, command, args = [], spawnOptions = {}) => spawn('ip', ['netns', 'exec', ns, command, ...args], spawnOptions),
    // The proxy host's end goes down, as a cable cut between hosts would: the src and dst hosts keep
    // their addresses and routes, their packets are simply lost until the link comes back.
    linkDown: async (link) => {
      await ip('netns', 'exec', link.b.ns, 'ip', 'link', 'set', link.b.dev, 'down');
    },
    linkUp: async (link) => {
      await ip('netns', 'exec', link.b.ns, 'ip', 'link', 'set', link.b.dev, 'up');
      // A device going down flushes the routes through it; put the hosts' default routes back.
      if (route === 'routed') {
        const [ns, via] = link === links.srcProxy ? [names.src, '10.231.1.1'] : [names.dst, '10.231.2.1'];
        await ip('netns', 'exec', ns, 'ip', 'route', 'replace', 'default', 'via', via);
      }
    },
    impair: async (link, impairment) => {
      if (userspaceLink && link === links.srcProxy) {
        const rule = { delayMs: impairment.delayMs ?? 0, lossPercent: impairment.lossPercent ?? 0 };
        userspaceLink.stdin?.write(`${JSON.stringify({ a2b: rule, b2a: rule })}\n`);
        return;
      }
      const netem = ['netem'];
      if (impairment.delayMs) netem.push('delay', `${impairment.delayMs}ms`);
      if (impairment.lossPercent) netem.push('loss', `${impairment.lossPercent}%`);
      for (const end of [link.a, link.b]) {
        const result = await tc(end, 'qdisc', 'replace', 'dev', end.dev, 'root', ...netem);
        if (result.code !== 0) {
          if (/unknown/i.test(result.stderr)) throw new NetemUnavailableError(`tc netem is not available in this kernel: ${result.stderr.trim()}`);
          throw new Error(`tc qdisc replace dev ${end.dev} root ${netem.join(' ')}: ${result.stderr.trim()}`);
        }
      }
    },
    clearImpairment: async (link) => {
      if (userspaceLink && link === links.srcProxy) {
        const none = { delayMs: 0, lossPercent: 0 };
        userspaceLink.stdin?.write(`${JSON.stringify({ a2b: none, b2a: none })}\n`);
        return;
      }
      for (const end of [link.a, link.b]) await tc(end, 'qdisc', 'del', 'dev', end.dev, 'root');
    },
    txBytes: async (endpoint) => {
      const result = await exec(endpoint.ns, 'cat', [`/sys/class/net/${endpoint.dev}/statistics/tx_bytes`]);
      if (result.code !== 0) throw new Error(`cannot read tx_bytes of ${endpoint.dev}: ${result.stderr.trim()}`);
      return Number(result.stdout.trim());
    },
    dial: async (ns, host, port, dialOptions = {}) => {
      const timeoutMs = dialOptions.timeoutMs ?? 5000;
      const result = await exec(
        ns,
        process.execPath,
        ['-e', DIAL_SCRIPT, host, String(port), dialOptions.proxy ?? '', String(timeoutMs), dialOptions.send ?? ''],
        { timeoutMs: timeoutMs + 5000 },
      );
      try {
        return JSON.parse(result.stdout) as DialResult;
      } catch {
        return { ok: false, data: '', error: `dial helper failed: ${result.stderr.trim()}` };
      }
    },
    teardown: async () => {
      teardownSync();
      process.off('exit', teardownSync);
    },
  };
}
