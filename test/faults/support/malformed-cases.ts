// Issue 5, scenario 7: the table of malformed inputs. Pure: each case says what input to give and
// which key/flag the one error line must name. The runner (malformed-input.test.ts) does the rest.

/** A proxy password planted in bad inputs: no error message may repeat it. */
export const PLANTED_PASSWORD = 'pw-Malformed-7f3c9e';

type Json = Record<string, unknown>;

export interface AgentConfigCase {
  kind: 'server' | 'client';
  name: string;
  /** Changes a deep copy of the valid base config, or replaces the whole file text. */
  mutate?: (config: Json) => void;
  fileText?: string;
  /** Config path instead of the written file (a missing file). */
  missingFile?: boolean;
  names: RegExp;
}

export interface CliCase {
  kind: 'cli';
  name: string;
  /** argv after `dvm`; SRC/DST placeholders are replaced by real paths. */
  argv: string[];
  names: RegExp;
}

export interface ParseCase {
  kind: 'spec' | 'settings';
  name: string;
  input: unknown;
  names: RegExp;
}

export type MalformedCase = AgentConfigCase | CliCase | ParseCase;

const set =
  (path: string, value: unknown) =>
  (config: Json): void => {
    const keys = path.split('.');
    let node: Json = config;
    for (const key of keys.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Json;
    }
    node[keys[keys.length - 1] as string] = value;
  };
const remove =
  (path: string) =>
  (config: Json): void => {
    const keys = path.split('.');
    let node: Json = config;
    for (const key of keys.slice(0, -1)) node = node[key] as Json;
    delete node[keys[keys.length - 1] as string];
  };

const serverCases: AgentConfigCase[] = [
  { kind: 'server', name: 'no tls section', mutate: remove('tls'), names: /tls/ },
  { kind: 'server', name: 'tls.ca missing', mutate: remove('tls.ca'), names: /tls\.ca/ },
  { kind: 'server', name: 'tls.key empty', mutate: set('tls.key', ''), names: /tls\.key/ },
  { kind: 'server', name: 'tls.cert file does not exist', mutate: set('tls.cert', '/nonexistent/dvm/server.crt'), names: /cert/ },
  { kind: 'server', name: 'listen without port', mutate: set('listen', '127.0.0.1'), names: /listen/ },
  { kind: 'server', name: 'listen with empty port', mutate: set('listen', '127.0.0.1:'), names: /listen/ },
  { kind: 'server', name: 'listen port out of range', mutate: set('listen', '127.0.0.1:99999'), names: /listen|99999|port/ },
  { kind: 'server', name: 'healthListen with a space', mutate: set('healthListen', 'local host:8080'), names: /healthListen/ },
  { kind: 'server', name: 'tlsMinVersion too old', mutate: set('tlsMinVersion', 'TLSv1.1'), names: /tlsMinVersion/ },
  { kind: 'server', name: 'no modules', mutate: set('modules', []), names: /modules/ },
  { kind: 'server', name: 'module name with capitals', mutate: set('modules', [{ name: 'Bad_Name', path: '/tmp/x' }]), names: /modules\.0\.name/ },
  { kind: 'server', name: 'module name with path traversal', mutate: set('modules', [{ name: '../etc', path: '/tmp/x' }]), names: /modules\.0\.name/ },
  { kind: 'server', name: 'module without path', mutate: set('modules', [{ name: 'data' }]), names: /modules\.0\.path/ },
  { kind: 'server', name: 'handshakeTimeoutMs negative', mutate: set('handshakeTimeoutMs', -1), names: /handshakeTimeoutMs/ },
  { kind: 'server', name: 'firstByteTimeoutMs a word', mutate: set('firstByteTimeoutMs', 'soon'), names: /firstByteTimeoutMs/ },
  { kind: 'server', name: 'maxConnections zero', mutate: set('maxConnections', 0), names: /maxConnections/ },
  { kind: 'server', name: 'maxConnections fractional', mutate: set('maxConnections', 1.5), names: /maxConnections/ },
  { kind: 'server', name: 'config is not YAML', fileText: 'listen: [unclosed\n  - {{{', names: /config/ },
  { kind: 'server', name: 'config is a list', fileText: '- listen: 127.0.0.1:0\n', names: /top level|config/ },
  { kind: 'server', name: 'config file missing', missingFile: true, names: /config/ },
  { kind: 'server', name: 'tls.ca is not PEM', mutate: set('tls.ca', '/etc/hostname'), names: /tls|ca|certificate|PEM/i },
];

const clientCases: AgentConfigCase[] = [
  { kind: 'client', name: 'pvc empty', mutate: set('pvc', ''), names: /pvc/ },
  { kind: 'client', name: 'no server', mutate: remove('server'), names: /server/ },
  { kind: 'client', name: 'server.port zero', mutate: set('server.port', 0), names: /server\.port/ },
  { kind: 'client', name: 'server.port too big', mutate: set('server.port', 70000), names: /server\.port/ },
  { kind: 'client', name: 'server.port a string', mutate: set('server.port', '2222/tcp'), names: /server\.port/ },
  { kind: 'client', name: 'server.host empty', mutate: set('server.host', ''), names: /server\.host/ },
  { kind: 'client', name: 'server.serverName missing', mutate: remove('server.serverName'), names: /server\.serverName/ },
  { kind: 'client', name: 'module with capitals', mutate: set('module', 'DATA'), names: /module/ },
  { kind: 'client', name: 'source empty', mutate: set('source', ''), names: /source/ },
  { kind: 'client', name: 'source does not exist', mutate: set('source', '/nonexistent/dvm/source'), names: /source/ },
  { kind: 'client', name: 'tls.key file does not exist', mutate: set('tls.key', '/nonexistent/dvm/client.key'), names: /key/ },
  { kind: 'client', name: 'rsync_opt_bwlimit a word', mutate: set('settings.rsync_opt_bwlimit', 'fast'), names: /rsync_opt_bwlimit/ },
  { kind: 'client', name: 'rsync_opt_bwlimit below -1', mutate: set('settings.rsync_opt_bwlimit', -5), names: /rsync_opt_bwlimit/ },
  { kind: 'client', name: 'rsync_opt_bwlimit fractional', mutate: set('settings.rsync_opt_bwlimit', 1.5), names: /rsync_opt_bwlimit/ },
  { kind: 'client', name: 'rsync_opt_archive "yes"', mutate: set('settings.rsync_opt_archive', 'yes'), names: /rsync_opt_archive/ },
  { kind: 'client', name: 'rsync_opt_delete a number', mutate: set('settings.rsync_opt_delete', 1), names: /rsync_opt_delete/ },
  { kind: 'client', name: 'rsync_opt_extras --rsh', mutate: set('settings.rsync_opt_extras', '--rsh=ssh'), names: /rsync_opt_extras/ },
  { kind: 'client', name: 'rsync_opt_extras -e ssh', mutate: set('settings.rsync_opt_extras', '-e ssh'), names: /rsync_opt_extras/ },
  {
    kind: 'client',
    name: 'rsync_opt_extras --remove-source-files',
    mutate: set('settings.rsync_opt_extras', '--remove-source-files'),
    names: /rsync_opt_extras/,
  },
  { kind: 'client', name: 'rsync_opt_extras shell injection', mutate: set('settings.rsync_opt_extras', '--exclude=a; rm -rf /'), names: /rsync_opt_extras/ },
  { kind: 'client', name: 'rsync_opt_extras --daemon', mutate: set('settings.rsync_opt_extras', '--daemon'), names: /rsync_opt_extras/ },
  { kind: 'client', name: 'rsync_opt_extras --rsync-path', mutate: set('settings.rsync_opt_extras', '--rsync-path=/bin/sh'), names: /rsync_opt_extras/ },
  {
    kind: 'client',
    name: 'rsync_opt_extras --delete-excluded',
    mutate: set('settings.rsync_opt_extras', '--exclude=* --delete-excluded'),
    names: /rsync_opt_extras.*--delete-excluded/,
  },
  {
    kind: 'client',
    name: 'rsync_opt_extras --chmod setuid',
    mutate: set('settings.rsync_opt_extras', '--chmod=D0777,F4777'),
    names: /rsync_opt_extras.*--chmod/,
  },
  { kind: 'client', name: 'rsync_opt_extras --max-size', mutate: set('settings.rsync_opt_extras', '--max-size=1'), names: /rsync_opt_extras.*--max-size=1/ },
  { kind: 'client', name: 'rsync_opt_extras -L', mutate: set('settings.rsync_opt_extras', '-cL'), names: /rsync_opt_extras.*-cL.*--copy-links/ },
  {
    kind: 'client',
    name: 'rsync_opt_extras --modify-window overflow',
    mutate: set('settings.rsync_opt_extras', '--modify-window=99999999999999999999'),
    names: /rsync_opt_extras.*--modify-window/,
  },
  { kind: 'client', name: 'rsync_opt_extras --crtimes', mutate: set('settings.rsync_opt_extras', '--crtimes'), names: /rsync_opt_extras.*--crtimes/ },
  { kind: 'client', name: 'rsync_opt_xattrs "yes"', mutate: set('settings.rsync_opt_xattrs', 'yes'), names: /rsync_opt_xattrs/ },
  { kind: 'client', name: 'config over 1 MiB', fileText: `{"pvc": "x", "pad": "${'p'.repeat(1_100_000)}"}`, names: /config.*too big/ },
  { kind: 'client', name: 'rsync_opt_info with a semicolon', mutate: set('settings.rsync_opt_info', 'PROGRESS2;rm'), names: /rsync_opt_info/ },
  { kind: 'client', name: 'rsync_backoff_limit negative', mutate: set('settings.rsync_backoff_limit', -1), names: /rsync_backoff_limit/ },
  { kind: 'client', name: 'rsync_backoff_limit a word', mutate: set('settings.rsync_backoff_limit', 'many'), names: /rsync_backoff_limit/ },
  { kind: 'client', name: 'stunnel_tcp_proxy not a URL', mutate: set('settings.stunnel_tcp_proxy', 'proxy.example:3128'), names: /stunnel_tcp_proxy/ },
  {
    kind: 'client',
    name: 'stunnel_tcp_proxy https',
    mutate: set('settings.stunnel_tcp_proxy', `https://dvm:${PLANTED_PASSWORD}@proxy.example:3128`),
    names: /stunnel_tcp_proxy/,
  },
  { kind: 'client', name: 'stunnel_tcp_proxy socks5', mutate: set('settings.stunnel_tcp_proxy', 'socks5://proxy.example:1080'), names: /stunnel_tcp_proxy/ },
  {
    kind: 'client',
    name: 'stunnel_tcp_proxy with a path',
    mutate: set('settings.stunnel_tcp_proxy', `http://dvm:${PLANTED_PASSWORD}@proxy.example:3128/connect`),
    names: /stunnel_tcp_proxy/,
  },
  {
    kind: 'client',
    name: 'stunnel_tcp_proxy without host',
    mutate: set('settings.stunnel_tcp_proxy', `http://dvm:${PLANTED_PASSWORD}@:3128`),
    names: /stunnel_tcp_proxy/,
  },
  { kind: 'client', name: 'noProxy a number', mutate: set('settings.noProxy', 42), names: /noProxy/ },
  { kind: 'client', name: 'progressListen without port', mutate: set('progressListen', 'localhost'), names: /progressListen/ },
  { kind: 'client', name: 'progressIntervalMs zero', mutate: set('progressIntervalMs', 0), names: /progressIntervalMs/ },
  { kind: 'client', name: 'retryBaseMs a word', mutate: set('retryBaseMs', 'x'), names: /retryBaseMs/ },
  { kind: 'client', name: 'verify "yes"', mutate: set('verify', 'yes'), names: /verify/ },
];

const cliCases: CliCase[] = [
  { kind: 'cli', name: 'no SRC', argv: ['migrate', '--local'], names: /SRC/ },
  { kind: 'cli', name: 'no DST', argv: ['migrate', '--local', 'SRC'], names: /DST/ },
  { kind: 'cli', name: 'SRC does not exist', argv: ['migrate', '--local', '/nonexistent/dvm/src', 'DST'], names: /SRC/ },
  { kind: 'cli', name: 'SRC is a file', argv: ['migrate', '--local', 'FILE', 'DST'], names: /SRC/ },
  { kind: 'cli', name: 'DST below a file', argv: ['migrate', '--local', 'SRC', 'FILE/sub'], names: /DST/ },
  { kind: 'cli', name: 'SRC equals DST', argv: ['migrate', '--local', 'SRC', 'SRC'], names: /SRC|DST|same/ },
  // Only SRC, DST and FILE... are placeholders, so "/" stands in for an ancestor of both.
  { kind: 'cli', name: 'SRC inside DST', argv: ['migrate', '--local', 'SRC', '/'], names: /SRC .* is inside DST \/|DST \/ is not writable/ },
  { kind: 'cli', name: 'DST inside SRC', argv: ['migrate', '--local', '/', 'DST'], names: /DST .* is inside SRC \//i },
  { kind: 'cli', name: 'SRC equals DST, spelled differently', argv: ['migrate', '--local', '/', '/tmp/../.'], names: /same directory|DST \/ is not writable/ },
  {
    kind: 'cli',
    name: '--rsync-extras --delete-excluded',
    argv: ['migrate', '--local', 'SRC', 'DST', '--rsync-extras', '--exclude=* --delete-excluded'],
    names: /--rsync-extras \(rsync_opt_extras\).*--delete-excluded/,
  },
  {
    kind: 'cli',
    name: '--rsync-extras --timeout out of range',
    argv: ['migrate', '--local', 'SRC', 'DST', '--rsync-extras', '--timeout=99999999999'],
    names: /rsync_opt_extras.*--timeout/,
  },
  { kind: 'cli', name: 'without --local', argv: ['migrate', 'SRC', 'DST'], names: /--local/ },
  { kind: 'cli', name: '--proxy ftp', argv: ['migrate', '--local', 'SRC', 'DST', '--proxy', 'ftp://proxy.example:21'], names: /--proxy/ },
  {
    kind: 'cli',
    name: '--proxy with a path and a password',
    argv: ['migrate', '--local', 'SRC', 'DST', '--proxy', `http://dvm:${PLANTED_PASSWORD}@proxy.example:3128/x`],
    names: /--proxy/,
  },
  { kind: 'cli', name: '--proxy garbage', argv: ['migrate', '--local', 'SRC', 'DST', '--proxy', '::::'], names: /--proxy/ },
  { kind: 'cli', name: '--bwlimit a word', argv: ['migrate', '--local', 'SRC', 'DST', '--bwlimit', 'abc'], names: /--bwlimit/ },
  { kind: 'cli', name: '--bwlimit negative', argv: ['migrate', '--local', 'SRC', 'DST', '--bwlimit', '-2'], names: /--bwlimit/ },
  { kind: 'cli', name: '--bwlimit fractional', argv: ['migrate', '--local', 'SRC', 'DST', '--bwlimit', '1.5'], names: /--bwlimit/ },
  { kind: 'cli', name: '--retries negative', argv: ['migrate', '--local', 'SRC', 'DST', '--retries', '-1'], names: /--retries/ },
  { kind: 'cli', name: '--rsync-extras --rsh', argv: ['migrate', '--local', 'SRC', 'DST', '--rsync-extras', '--rsh=evil'], names: /--rsync-extras/ },
  {
    kind: 'cli',
    name: '--progress-listen without port',
    argv: ['migrate', '--local', 'SRC', 'DST', '--progress-listen', 'nohost'],
    names: /--progress-listen/,
  },
  { kind: 'cli', name: '--listen garbage', argv: ['migrate', '--local', 'SRC', 'DST', '--listen', 'a b'], names: /--listen/ },
  { kind: 'cli', name: 'unknown flag', argv: ['migrate', '--local', 'SRC', 'DST', '--bogus-flag'], names: /bogus-flag/ },
];

const pvc = { name: 'data', namespace: 'app' };
const specCases: ParseCase[] = [
  { kind: 'spec', name: 'empty spec', input: {}, names: /persistentVolumeClaims/ },
  { kind: 'spec', name: 'no PVCs', input: { persistentVolumeClaims: [] }, names: /persistentVolumeClaims/ },
  { kind: 'spec', name: 'PVC name with capitals', input: { persistentVolumeClaims: [{ ...pvc, name: 'Bad_Name' }] }, names: /persistentVolumeClaims\.0\.name/ },
  { kind: 'spec', name: 'PVC without namespace', input: { persistentVolumeClaims: [{ name: 'data' }] }, names: /persistentVolumeClaims\.0\.namespace/ },
  { kind: 'spec', name: 'PVC key typo', input: { persistentVolumeClaims: [{ ...pvc, targetNmae: 'x' }] }, names: /targetNmae|persistentVolumeClaims\.0/ },
  { kind: 'spec', name: 'duplicate source PVC', input: { persistentVolumeClaims: [pvc, pvc] }, names: /persistentVolumeClaims\.1/ },
  {
    kind: 'spec',
    name: 'two PVCs into one target',
    input: { persistentVolumeClaims: [pvc, { name: 'other', namespace: 'app', targetName: 'data' }] },
    names: /persistentVolumeClaims\.1\.targetName: duplicate target/,
  },
  { kind: 'spec', name: 'migrationType unknown', input: { persistentVolumeClaims: [pvc], migrationType: 'Final' }, names: /migrationType/ },
  { kind: 'spec', name: 'backOffLimit negative', input: { persistentVolumeClaims: [pvc], backOffLimit: -1 }, names: /backOffLimit/ },
  { kind: 'spec', name: 'CR of the wrong kind', input: { kind: 'Pod', spec: { persistentVolumeClaims: [pvc] } }, names: /kind/ },
  {
    kind: 'spec',
    name: 'targetAccessModes unknown',
    input: { persistentVolumeClaims: [{ ...pvc, targetAccessModes: ['ReadWriteSometimes'] }] },
    names: /targetAccessModes/,
  },
];

const settingsCases: ParseCase[] = [
  { kind: 'settings', name: 'rsync_endpoint_type Ingress', input: { rsync_endpoint_type: 'Ingress' }, names: /rsync_endpoint_type/ },
  { kind: 'settings', name: 'src_supplemental_groups names', input: { src_supplemental_groups: 'wheel,users' }, names: /src_supplemental_groups/ },
  { kind: 'settings', name: 'rsync_opt_* typo', input: { rsync_opt_bwlimitt: 100 }, names: /rsync_opt_bwlimitt/ },
  { kind: 'settings', name: 'stunnel_tcp_proxy bad', input: { stunnel_tcp_proxy: `dvm:${PLANTED_PASSWORD}@proxy` }, names: /stunnel_tcp_proxy/ },
  { kind: 'settings', name: 'cluster_subdomain with capitals', input: { cluster_subdomain: 'Apps.Example.com' }, names: /cluster_subdomain/ },
  { kind: 'settings', name: 'cpu limit not a quantity', input: { source_rsync_pod_cpu_limits: '1 core' }, names: /source_rsync_pod_cpu_limits/ },
  { kind: 'settings', name: 'rsync_max_concurrent_clients zero', input: { rsync_max_concurrent_clients: 0 }, names: /rsync_max_concurrent_clients/ },
  { kind: 'settings', name: 'MigrationController CR with a scalar spec', input: { kind: 'MigrationController', spec: 'x' }, names: /spec/ },
  { kind: 'settings', name: 'rsync_opt_extras refused', input: { rsync_opt_extras: '--rsh=ssh' }, names: /rsync_opt_extras/ },
  {
    kind: 'settings',
    name: 'rsync_opt_extras --remove-source-files',
    input: { rsync_opt_extras: '--remove-source-files' },
    names: /rsync_opt_extras.*--remove-source-files/,
  },
  {
    kind: 'settings',
    name: 'rsync_opt_extras --block-size too big',
    input: { rsync_opt_extras: '--block-size=1m' },
    names: /rsync_opt_extras.*--block-size=1m/,
  },
  { kind: 'settings', name: 'rsync_opt_acls a number', input: { rsync_opt_acls: 1 }, names: /rsync_opt_acls/ },
];

export function malformedCases(): MalformedCase[] {
  return [...serverCases, ...clientCases, ...cliCases, ...specCases, ...settingsCases];
}
