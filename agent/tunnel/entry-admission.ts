// Who may use the client's loopback entry: only a connection the kernel lists exactly once, with
// this connection's whole address pair, owned by the agent's own uid. Anything else fails closed.
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { connectionOwner } from './socket-owner.js';
import { TunnelError } from './tunnel-error.js';

export type Admission =
  | { admitted: true }
  /** Refused; `failure` set only when the refusal is the migration's failure (our own rsync cannot be served either). */
  | { admitted: false; failure?: TunnelError };

export function admitLocalConnection(rsyncSide: Socket, tables: readonly string[], log: Logger): Admission {
  const { localAddress, localPort, remoteAddress, remotePort } = rsyncSide;
  if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) {
    // Gone before we looked: nobody to serve, and nothing that failed.
    return { admitted: false };
  }
  const from = `${remoteAddress}:${remotePort}`;
  const owner = connectionOwner({ local: { address: localAddress, port: localPort }, remote: { address: remoteAddress, port: remotePort } }, tables);
  if (owner.found === 'unknowable') {
    // Fail closed, and say why: without /proc/net/tcp (not Linux) nobody can be told apart.
    return {
      admitted: false,
      failure: new TunnelError(
        'local-entry',
        `cannot tell who opened the local connection to the tunnel entry: no table of sockets (${tables.join(', ')}) can be read (the client agent needs Linux)`,
      ),
    };
  }
  if (owner.found !== 'one') {
    // Fail closed without blaming the tunnel: a connection whose socket the kernel no longer lists
    // (it closed at once) or lists twice is no one we can vouch for.
    log.warn(
      { from, found: owner.found },
      'refused a local connection: the kernel lists no single socket with its exact addresses (closed already, or not ours)',
    );
    return { admitted: false };
  }
  if (owner.uid !== process.getuid?.()) {
    log.warn({ owner: owner.uid, from }, 'refused a local connection that is not ours (uid differs)');
    return { admitted: false };
  }
  return { admitted: true };
}
