// The throw-away material of one local migration: a 0700 directory with a fresh CA, the two
// agents' certificates and their config files. remove() leaves nothing behind; a run killed before
// it could remove it leaves an owner record by which the next run removes it (stale-workspaces.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientConfig, ServerConfig } from '../../contract/agent-config.js';
import type { LocalMigrationOptions } from './options.js';
import { pvcIdentity } from '../../contract/identity.js';
import { createRunPki, type PemPair } from '../pki/pki.js';
import { WORKSPACE_PREFIX, writeOwnerRecord } from './stale-workspaces.js';

export const LOCAL_SERVER_NAME = 'localhost';
export const LOCAL_MODULE = 'data';
const LOCAL_IDENTITY = pvcIdentity('local', LOCAL_MODULE);

/** The migration's options (the page listener is not the agents' business) and a run id. */
export type LocalWorkspaceRequest = Omit<LocalMigrationOptions, 'listen'> & { runId: string };

export interface LocalWorkspace {
  dir: string;
  serverConfigPath: string;
  clientConfigPath: string;
  /** The client config once the server's port is known. */
  writeClientConfig(serverPort: number): void;
  /** Adds the agents' pids to the owner record: the directory is in use while any of them runs. */
  recordAgents(pids: readonly number[]): void;
  remove(): void;
}

export async function createLocalWorkspace(request: LocalWorkspaceRequest): Promise<LocalWorkspace> {
  const pki = await createRunPki({
    runId: request.runId,
    serverDnsNames: [LOCAL_SERVER_NAME],
    serverIpAddresses: ['127.0.0.1'],
    clientIdentities: [LOCAL_IDENTITY],
  });
  const dir = mkdtempSync(join(tmpdir(), WORKSPACE_PREFIX));
  try {
    // First, before any key: whoever finds this directory can tell whose it is and whether it is stale.
    writeOwnerRecord(dir);
    const writeSecret = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const ca = writeSecret('ca.crt', pki.ca.certPem);
    const pair = (role: string, pem: PemPair) => ({ ca, cert: writeSecret(`${role}.crt`, pem.certPem), key: writeSecret(`${role}.key`, pem.keyPem) });
    const serverTls = pair('server', pki.server);
    const clientTls = pair('client', pki.clients[LOCAL_IDENTITY] as PemPair);

    const server: ServerConfig = {
      listen: '127.0.0.1:0',
      healthListen: '127.0.0.1:0',
      tls: serverTls,
      tlsMinVersion: 'TLSv1.3',
      modules: [{ name: LOCAL_MODULE, path: request.destination, client: LOCAL_IDENTITY }],
      handshakeTimeoutMs: 10_000,
      firstByteTimeoutMs: 30_000,
      maxConnections: 8,
      rsyncPath: 'rsync',
      workDir: dir,
    };
    const serverConfigPath = writeSecret('server.json', JSON.stringify(server));
    const clientConfigPath = join(dir, 'client.json');
    return {
      dir,
      serverConfigPath,
      clientConfigPath,
      writeClientConfig(serverPort: number) {
        const client: ClientConfig = {
          pvc: request.pvc,
          server: { host: '127.0.0.1', port: serverPort, serverName: LOCAL_SERVER_NAME },
          tls: clientTls,
          module: LOCAL_MODULE,
          source: request.source,
          settings: request.settings,
          verify: request.verify,
          ...(request.progressListen ? { progressListen: request.progressListen } : {}),
          terminationLog: join(dir, 'result.json'),
          progressIntervalMs: 1000,
          retryBaseMs: 1000,
          retryMaxMs: 30_000,
          rsyncPath: 'rsync',
        };
        writeSecret('client.json', JSON.stringify(client));
      },
      recordAgents: (pids) => writeOwnerRecord(dir, pids),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
