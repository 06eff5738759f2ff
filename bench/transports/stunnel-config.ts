// stunnel configuration as MTC's pods run it (crane-lib's templates): TLS 1.2, TCP_NODELAY on the
// server, debug 7 on the server, no peer verification. Pure: returns the text.

export interface StunnelServerInput {
  acceptPort: number;
  /** Where decrypted bytes go: MTC connects to an rsync daemon in the same pod; `exec` runs
   * `rsync --server --daemon` per connection instead (one hop fewer). */
  target: { kind: 'connect'; port: number } | { kind: 'exec'; rsyncPath: string; rsyncConfig: string };
  cert: string;
  key: string;
  /** Extra global lines (tuning variants: sslVersion, ciphers); empty for MTC's own. */
  extra?: string[];
}

export interface StunnelClientInput {
  acceptPort: number;
  serverPort: number;
  cert: string;
  key: string;
  extra?: string[];
}

export const MTC_TLS_VERSION = 'sslVersion = TLSv1.2';

export function renderStunnelServer(input: StunnelServerInput): string {
  const target =
    input.target.kind === 'connect'
      ? [`connect = 127.0.0.1:${input.target.port}`]
      : [`exec = ${input.target.rsyncPath}`, `execArgs = rsync --server --daemon --config=${input.target.rsyncConfig} .`];
  return [
    'foreground = yes',
    'pid =',
    'syslog = no',
    'socket = l:TCP_NODELAY=1',
    'socket = r:TCP_NODELAY=1',
    'debug = 7',
    ...(input.extra ?? [MTC_TLS_VERSION]),
    '[rsync]',
    `accept = 127.0.0.1:${input.acceptPort}`,
    ...target,
    `key = ${input.key}`,
    `cert = ${input.cert}`,
    'TIMEOUTclose = 0',
    '',
  ].join('\n');
}

export function renderStunnelClient(input: StunnelClientInput): string {
  return [
    'foreground = yes',
    'pid =',
    'syslog = no',
    ...(input.extra ?? [MTC_TLS_VERSION]),
    'client = yes',
    '[rsync]',
    `accept = 127.0.0.1:${input.acceptPort}`,
    `cert = ${input.cert}`,
    `connect = 127.0.0.1:${input.serverPort}`,
    `key = ${input.key}`,
    '',
  ].join('\n');
}
