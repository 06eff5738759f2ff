// Runs the real dvm-agent (dist/agent/dvm-agent.js) as child processes for tests: a per-test PKI, config
// files, a server with its JSON log and metrics, and clients with their events.
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientConfigSchema, serverConfigSchema, type ClientConfig, type ServerConfig } from '../../contract/agent-config.js';
import { pvcIdentity } from '../../contract/identity.js';
import { createRunPki, type PemPair, type RunPki } from '../../controller/pki/pki.js';
import { killAll, startClientAgent, startServerAgent, type ChildList, type ClientAgent, type ServerAgent } from './agent-process.js';

export { AGENT_MAIN, type ClientAgent, type ServerAgent } from './agent-process.js';

const MODULE = 'data';
/** The identity of the rig's one client certificate; every module of a rig server serves it. */
export const TEST_IDENTITY = pvcIdentity('test', MODULE);

export interface Rig {
  dir: string;
  pki: RunPki;
  /** Writes PEMs to files and returns their paths. */
  writePair(name: string, pair: PemPair): { cert: string; key: string };
  startServer(destination: string, overrides?: Partial<ServerConfig>, runAs?: { uid: number; gid: number }): Promise<ServerAgent>;
  clientConfig(server: { port: number; destination: string; runAsUid?: number }, source: string, overrides?: Partial<ClientConfig>): ClientConfig;
  startClient(config: ClientConfig, env?: NodeJS.ProcessEnv): ClientAgent;
  cleanup(): void;
}

export async function createRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-test-'));
  const pki = await createRunPki({
    runId: 'test',
    serverDnsNames: ['localhost', 'dvm-server.test'],
    serverIpAddresses: ['127.0.0.1'],
    clientIdentities: [TEST_IDENTITY],
  });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const ca = write('ca.crt', pki.ca.certPem);
  const writePair = (name: string, pair: PemPair) => ({ cert: write(`${name}.crt`, pair.certPem), key: write(`${name}.key`, pair.keyPem) });
  const serverTls = { ca, ...writePair('server', pki.server) };
  const clientTls = { ca, ...writePair('client', pki.clients[TEST_IDENTITY] as PemPair) };
  const children: ChildList = [];
  let configs = 0;

  return {
    dir,
    pki,
    writePair,
    async startServer(destination, overrides = {}, runAs) {
      const config = serverConfigSchema.parse({
        listen: '127.0.0.1:0',
        healthListen: '127.0.0.1:0',
        tls: serverTls,
        modules: [{ name: MODULE, path: destination, client: TEST_IDENTITY }],
        workDir: dir,
        ...overrides,
      });
      const path = write(`server-${++configs}.json`, JSON.stringify(config));
      if (runAs) chownSync(path, runAs.uid, runAs.gid);
      return startServerAgent(children, ['server', '--config', path], runAs ?? {});
    },
    clientConfig(server, source, overrides = {}) {
      return clientConfigSchema.parse({
        pvc: 'test/pvc',
        server: { host: '127.0.0.1', port: server.port, serverName: 'localhost' },
        tls: clientTls,
        module: MODULE,
        source,
        terminationLog: join(dir, `result-${++configs}.json`),
        retryBaseMs: 200,
        retryMaxMs: 1000,
        ...overrides,
      });
    },
    startClient(config, env = {}) {
      const path = write(`client-${++configs}.json`, JSON.stringify(config));
      return startClientAgent(children, ['client', '--config', path], env);
    },
    cleanup() {
      killAll(children);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
