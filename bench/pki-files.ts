// The run's CA and certificates (controller/pki), written as files every transport can point at.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pvcIdentity } from '../contract/identity.js';
import { createRunPki, type PemPair } from '../controller/pki/pki.js';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface PkiFiles {
  server: TlsFiles;
  client: TlsFiles;
  /** The identity the client certificate carries (a server module's `client`). */
  clientIdentity: string;
  /** The name the server certificate carries (also 127.0.0.1 as an IP SAN). */
  serverName: string;
}

export async function writeBenchPki(dir: string): Promise<PkiFiles> {
  const serverName = 'localhost';
  const clientIdentity = pvcIdentity('bench', 'data');
  const pki = await createRunPki({ runId: 'bench', serverDnsNames: [serverName], serverIpAddresses: ['127.0.0.1'], clientIdentities: [clientIdentity] });
  const client = pki.clients[clientIdentity] as PemPair;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, pem: string) => {
    const path = join(dir, name);
    writeFileSync(path, pem, { mode: 0o600 });
    return path;
  };
  const ca = write('ca.crt', pki.ca.certPem);
  return {
    server: { ca, cert: write('server.crt', pki.server.certPem), key: write('server.key', pki.server.keyPem) },
    client: { ca, cert: write('client.crt', client.certPem), key: write('client.key', client.keyPem) },
    clientIdentity,
    serverName,
  };
}
