// A real HTTP CONNECT proxy for tests: Debian's tinyproxy in the foreground with a throw-away config,
// optional BasicAuth, and a log file that proves which connections went through it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface TinyproxyOptions {
  user?: string;
  password?: string;
  /** Default: a free loopback port (or 3128 inside a namespace). */
  port?: number;
  /** Address to bind. Default 127.0.0.1. */
  listen?: string;
  /** Extra client ranges allowed besides 127.0.0.0/8, e.g. a namespace subnet. */
  allow?: string[];
  /** Run inside this network namespace (ip netns exec). */
  netns?: string;
  /** Resolve names through this DNS server (a private /etc/resolv.conf in a mount namespace of its
   * own), as a proxy inside the clusters' network would: e.g. the test cluster's DNS for Route hosts. */
  nameserver?: string;
}

export interface Tinyproxy {
  host: string;
  port: number;
  /** http://user:pass@host:port (credentials only when given). */
  url: string;
  logFile: string;
  /** The whole log so far. */
  log(): string;
  /** CONNECT requests seen so far, as "host:port" strings. */
  connects(): string[];
  stop(): Promise<void>;
  restart(): Promise<void>;
  readonly pid: number | undefined;
}

/** Pure: the config file text. No ConnectPort lines: tinyproxy 1.11 then allows CONNECT to any port. */
export function renderTinyproxyConfig(options: { port: number; listen: string; logFile: string; allow: string[]; user?: string; password?: string }): string {
  const lines = [
    `Port ${options.port}`,
    `Listen ${options.listen}`,
    'Timeout 600',
    `LogFile "${options.logFile}"`,
    'LogLevel Info',
    'MaxClients 100',
    'DisableViaHeader Yes',
    ...['127.0.0.0/8', ...options.allow].map((range) => `Allow ${range}`),
  ];
  if (options.user !== undefined) lines.push(`BasicAuth ${options.user} ${options.password ?? ''}`);
  return `${lines.join('\n')}\n`;
}

export async function startTinyproxy(options: TinyproxyOptions = {}): Promise<Tinyproxy> {
  if ((options.user === undefined) !== (options.password === undefined)) throw new Error('startTinyproxy: give both user and password, or neither');
  if (options.user !== undefined && /[\s:@]/.test(`${options.user}${options.password}`)) {
    throw new Error('startTinyproxy: user/password must not contain spaces, ":" or "@"');
  }
  const host = options.listen ?? '127.0.0.1';
  const port = options.port ?? (options.netns ? 3128 : await freePort(host));
  const dir = mkdtempSync(join(tmpdir(), 'dvm-tinyproxy-'));
  const logFile = join(dir, 'tinyproxy.log');
  const configFile = join(dir, 'tinyproxy.conf');
  const resolvConf = join(dir, 'resolv.conf');
  if (options.nameserver) writeFileSync(resolvConf, `nameserver ${options.nameserver}\n`);
  writeFileSync(
    configFile,
    renderTinyproxyConfig({ port, listen: host, logFile, allow: options.allow ?? [], user: options.user, password: options.password }),
    { mode: 0o600 },
  );

  let child: ChildProcess | undefined;
  let exited = true;
  let stderr = '';
  const onExit = (): void => {
    if (child?.pid && !exited)
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  };
  process.on('exit', onExit);

  const start = async (): Promise<void> => {
    const tinyproxy = ['tinyproxy', '-d', '-c', configFile];
    // unshare and sh exec in place: the pid stays tinyproxy's, so stop() signals tinyproxy itself.
    const argv = options.nameserver
      ? ['unshare', '--mount', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf, ...tinyproxy]
      : tinyproxy;
    const [command, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...argv] : argv;
    child = spawn(command as string, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    exited = false;
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.once('exit', () => {
      exited = true;
    });
    try {
      await waitForPort(host, port, { netns: options.netns, alive: () => !exited, what: 'tinyproxy' });
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${stderr.trim()}`);
    }
  };

  const stop = async (): Promise<void> => {
    const current = child;
    if (!current || exited) return;
    const gone = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  };

  await start();
  const credentials = options.user !== undefined ? `${encodeURIComponent(options.user)}:${encodeURIComponent(options.password ?? '')}@` : '';
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    host,
    port,
    url: `http://${credentials}${host}:${port}`,
    logFile,
    log,
    connects: () => [...log().matchAll(/Request \(file descriptor \d+\): CONNECT (\S+) HTTP/g)].map((m) => m[1] as string),
    get pid() {
      return child?.pid;
    },
    stop: async () => {
      await stop();
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await start();
    },
  };
}
