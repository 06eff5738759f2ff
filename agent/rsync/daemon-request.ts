// The start of an rsync daemon conversation, read by the server agent before rsync sees a byte of it.
//
// A client of an rsync daemon sends, in clear text inside our tunnel: a greeting line
// ("@RSYNCD: 32.0 ...\n"), the module line ("name\n"), and, once the daemon has said "@RSYNCD: OK",
// its server arguments, each ended by a NUL, with an empty one at the end
// ("--server\0-logDtpre.iLsfxCIvu\0--delete\0.\0module/path/\0\0"). Everything after that is the
// binary protocol, which we relay untouched.
//
// Why the server reads this at all: no module is chrooted (daemon-config.ts says why), so each serves
// "/" (the only non-chroot path for which rsync keeps symlinks exact), and whatever path the client
// names after the module would be where rsync writes and deletes. So the server decides instead
// (docs/confinement.md): the module must be one the client's certificate is for, and the
// destination argument is replaced by the server's own path for that module. Options are judged by
// rsync itself ("refuse options" in the module), except the few that change what rsync is.

export interface DaemonRequestPolicy {
  /** Modules the connecting client may push to (from its certificate). */
  allowedModules: ReadonlySet<string>;
  /** What the destination argument becomes for a module: "module/<path>/" or "module/". */
  destinationFor(module: string): string;
}

export type GateStep =
  /** Hand these bytes to rsync now (more may follow). */
  | { kind: 'forward'; bytes: Buffer }
  /** Tell the client this line and hang up; rsync is not told anything more. */
  | { kind: 'refuse'; reply: string; reason: string }
  /** The request is complete: forward these bytes, then relay everything else untouched. */
  | { kind: 'done'; bytes: Buffer; module: string }
  /** Need more input. */
  | { kind: 'more' };

const MAX_LINE = 512;
const MAX_ARGS = 256;
const MAX_ARG_BYTES = 4096;
/** The protocol that ends arguments with NUL instead of newline; older clients are not ours. */
const MIN_PROTOCOL = 30;

/** Arguments that make the daemon something other than rsync serving a module. Options rsync can
 * refuse itself (a pull through --sender, --files-from, secluded args...) are left to its own
 * `write only` and `refuse options`, whose errors the client can read; once the daemon has said
 * "@RSYNCD: OK" a refusal of ours can only hang up (no rsync client sends these). */
const FORBIDDEN_ARGUMENT = /^--(daemon|config|dparam|detach|no-detach)(=|$)|^--$/;

type Stage = 'greeting' | 'module' | 'args' | 'done';

/** What an rsync daemon says when it is full, as rsync itself words it: the client's rsync prints
 * the @ERROR line and exits 5, and the client agent retries it (rsync/outcome.ts). Sent before the
 * client has said anything, which rsync clients accept: they read the greeting, send theirs and the
 * module, then read the @ERROR. Without it a full server could only hang up, which in TLS 1.3 looks
 * exactly like a refused client certificate. */
export function daemonBusyReply(limit: number): string {
  return `@RSYNCD: ${MIN_PROTOCOL}.0\n@ERROR: max connections (${limit}) reached -- try again later\n`;
}

export class DaemonRequestGate {
  private stage: Stage = 'greeting';
  private buffer: Buffer = Buffer.alloc(0);
  private module = '';
  private readonly args: string[] = [];

  constructor(private readonly policy: DaemonRequestPolicy) {}

  /** Feeds bytes from the client; returns what to do with them. Call again with an empty buffer
   * after a 'forward' to continue with what is still buffered. */
  push(chunk: Buffer): GateStep {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    switch (this.stage) {
      case 'greeting':
        return this.readGreeting();
      case 'module':
        return this.readModule();
      case 'args':
        return this.readArgs();
      default:
        return { kind: 'more' };
    }
  }

  private takeLine(): string | null | Error {
    const end = this.buffer.indexOf(0x0a);
    if (end < 0) return this.buffer.length > MAX_LINE ? new Error('line too long') : null;
    const line = this.buffer.subarray(0, end).toString('latin1');
    this.buffer = this.buffer.subarray(end + 1);
    return line;
  }

  private readGreeting(): GateStep {
    const line = this.takeLine();
    if (line === null) return { kind: 'more' };
    const protocol = line instanceof Error ? NaN : Number(/^@RSYNCD: (\d+)/.exec(line)?.[1]);
    if (!(protocol >= MIN_PROTOCOL)) return refuse('not an rsync client of protocol 30 or later', 'bad-greeting');
    this.stage = 'module';
    return { kind: 'forward', bytes: Buffer.from(`${line}\n`, 'latin1') };
  }

  private readModule(): GateStep {
    const line = this.takeLine();
    if (line === null) return { kind: 'more' };
    const module = line instanceof Error ? '' : line.replace(/\r$/, '');
    if (!this.policy.allowedModules.has(module)) {
      // Also what a listing request ("" or "#list") gets: nothing is listed to anyone.
      return refuse(`this client's certificate is not for module "${module.slice(0, 64)}"`, 'module-not-allowed');
    }
    this.module = module;
    this.stage = 'args';
    return { kind: 'forward', bytes: Buffer.from(`${line}\n`, 'latin1') };
  }

  private readArgs(): GateStep {
    for (;;) {
      const end = this.buffer.indexOf(0);
      if (end < 0) {
        return this.buffer.length > MAX_ARG_BYTES ? refuse('argument too long', 'bad-arguments') : { kind: 'more' };
      }
      const arg = this.buffer.subarray(0, end).toString('utf8');
      this.buffer = this.buffer.subarray(end + 1);
      if (arg === '') break;
      if (this.args.length >= MAX_ARGS) return refuse('too many arguments', 'bad-arguments');
      this.args.push(arg);
    }
    const forced = this.forcedArguments();
    if (forced instanceof Error) return refuse(forced.message, 'bad-arguments');
    this.stage = 'done';
    const request = Buffer.concat([...forced.map((arg) => Buffer.from(`${arg}\0`, 'utf8')), Buffer.from([0])]);
    return { kind: 'done', bytes: Buffer.concat([request, this.buffer]), module: this.module };
  }

  /** The client's arguments with the destination replaced by the server's. Shape required:
   * "--server", options (each starting with "-"), ".", exactly one destination. */
  private forcedArguments(): string[] | Error {
    const args = this.args;
    if (args[0] !== '--server') return new Error('the request is not for a receiving server');
    const dot = args.indexOf('.');
    if (dot < 0 || dot !== args.length - 2) return new Error('the request must name exactly one destination');
    const options = args.slice(1, dot);
    const stray = options.find((option) => !option.startsWith('-') || FORBIDDEN_ARGUMENT.test(option));
    if (stray !== undefined) return new Error(`argument "${stray.slice(0, 64)}" is refused by the dvm server`);
    const destination = args[dot + 1] as string;
    if (destination !== this.module && !destination.startsWith(`${this.module}/`)) {
      return new Error('the destination is not in the requested module');
    }
    return [...args.slice(0, dot + 1), this.policy.destinationFor(this.module)];
  }
}

function refuse(message: string, reason: string): GateStep {
  return { kind: 'refuse', reply: `@ERROR: ${message}\n`, reason };
}

/** The URIs (a client certificate names the destination PVCs it may write as URI subject
 * alternative names, contract/identity.ts) in a peer certificate's subjectaltname string ("URI:urn:dvm:pvc:a/b, DNS:x"). */
export function certificateUris(subjectAltName: string | undefined): Set<string> {
  const uris = new Set<string>();
  for (const entry of (subjectAltName ?? '').split(/,\s*/)) {
    if (entry.startsWith('URI:')) uris.add(entry.slice('URI:'.length));
  }
  return uris;
}
