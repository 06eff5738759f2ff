// Who opened a loopback TCP connection: the kernel lists every socket of this network namespace,
// with its owner's uid, in /proc/net/tcp. TCP has no SO_PEERCRED; this is the same answer.
import { readFileSync } from 'node:fs';

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];
const ESTABLISHED = '01';

/** The uid owning the socket whose local port is `clientPort` and whose peer port is `serverPort`
 * (the connecting end of a connection we accepted), from /proc/net/tcp text. Pure. */
export function findConnectionOwner(table: string, clientPort: number, serverPort: number): number | null {
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || fields[3] !== ESTABLISHED) continue;
    const localPort = parseInt(fields[1]!.split(':')[1] ?? '', 16);
    const remotePort = parseInt(fields[2]!.split(':')[1] ?? '', 16);
    if (localPort === clientPort && remotePort === serverPort) return Number(fields[7]);
  }
  return null;
}

/** The uid of the process side that connected to us, or null when the kernel does not say. */
export function connectionOwner(clientPort: number, serverPort: number): number | null {
  for (const path of TABLES) {
    let table: string;
    try {
      table = readFileSync(path, 'latin1');
    } catch {
      continue;
    }
    const uid = findConnectionOwner(table, clientPort, serverPort);
    if (uid !== null) return uid;
  }
  return null;
}
