// The agent configuration files that go into the transfer pods (as Secrets), built from the plan and
// validated against the agent's own schemas, so a config the agent would refuse is never written.
import { bypassesProxy } from '../../contract/no-proxy.js';
import { clientConfigSchema, serverConfigSchema, type ClientConfig, type ServerConfig } from '../../contract/agent-config.js';
import { blockClientConfigSchema, blockServerConfigSchema, type BlockClientConfig, type BlockServerConfig } from '../../contract/block-config.js';
import { rsyncSettingsSchema } from '../../contract/rsync-settings.js';
import type { ControllerSettings } from '../config/settings.js';
import { sourcePath } from './client.js';
import { HEALTH_PORT, PROGRESS_PORT, RSYNC_PORT, TERMINATION_LOG, TLS_DIR, TMP_DIR } from './names.js';
import type { ClientPlan, ServerPlan } from './plan.js';

/** Whatever a transfer pod's agent reads: the file copy's or the block copier's, server or client. */
export type AgentConfig = ServerConfig | ClientConfig | BlockServerConfig | BlockClientConfig;

/** Where the client dials, and the name the server certificate must carry. */
export interface EndpointAddress {
  host: string;
  port: number;
  serverName: string;
}

export const TLS_FILES = { ca: `${TLS_DIR}/ca.crt`, cert: `${TLS_DIR}/tls.crt`, key: `${TLS_DIR}/tls.key` } as const;

export function serverAgentConfig(server: ServerPlan): ServerConfig | BlockServerConfig {
  if (server.kind === 'block') return blockServerAgentConfig(server);
  return serverConfigSchema.parse({
    listen: `0.0.0.0:${RSYNC_PORT}`,
    healthListen: `0.0.0.0:${HEALTH_PORT}`,
    tls: TLS_FILES,
    modules: server.modules.map((module) => ({ name: module.module, path: module.path, client: module.identity })),
    workDir: TMP_DIR,
  });
}

/** The block server on the same ports as the file server (they are separate pods). */
function blockServerAgentConfig(server: ServerPlan): BlockServerConfig {
  return blockServerConfigSchema.parse({
    listen: `0.0.0.0:${RSYNC_PORT}`,
    healthListen: `0.0.0.0:${HEALTH_PORT}`,
    tls: TLS_FILES,
    targets: server.modules.map((module) => ({ name: module.module, path: module.path, client: module.identity })),
  });
}

/** The agent's settings block: only its own keys, and the proxy only when the endpoint needs it. */
export function clientAgentSettings(settings: ControllerSettings, endpointHost: string): ClientConfig['settings'] {
  const rsync = Object.fromEntries(Object.keys(rsyncSettingsSchema.shape).map((key) => [key, settings[key as keyof ControllerSettings]]));
  const useProxy = settings.stunnel_tcp_proxy !== '' && !bypassesProxy(endpointHost, settings.noProxy);
  return {
    ...(rsync as ClientConfig['settings']),
    stunnel_tcp_proxy: useProxy ? settings.stunnel_tcp_proxy : '',
    noProxy: settings.noProxy,
  };
}

export function clientAgentConfig(client: ClientPlan, endpoint: EndpointAddress, settings: ControllerSettings): ClientConfig | BlockClientConfig {
  if (client.kind === 'block') return blockClientAgentConfig(client, endpoint, settings);
  return clientConfigSchema.parse({
    pvc: client.key,
    server: { host: endpoint.host, port: endpoint.port, serverName: endpoint.serverName },
    tls: TLS_FILES,
    module: client.module,
    source: sourcePath(client),
    settings: clientAgentSettings(settings, endpoint.host),
    verify: client.pair.verify,
    progressListen: `0.0.0.0:${PROGRESS_PORT}`,
    terminationLog: TERMINATION_LOG,
  });
}

/** A block copy: the same tunnel, proxy and retry budget; rsync's own options do not apply. */
function blockClientAgentConfig(client: ClientPlan, endpoint: EndpointAddress, settings: ControllerSettings): BlockClientConfig {
  const { stunnel_tcp_proxy, noProxy, rsync_backoff_limit } = clientAgentSettings(settings, endpoint.host);
  return blockClientConfigSchema.parse({
    pvc: client.key,
    server: { host: endpoint.host, port: endpoint.port, serverName: endpoint.serverName },
    tls: TLS_FILES,
    target: client.module,
    source: sourcePath(client),
    settings: { stunnel_tcp_proxy, noProxy, rsync_backoff_limit },
    verify: client.pair.verify,
    progressListen: `0.0.0.0:${PROGRESS_PORT}`,
    terminationLog: TERMINATION_LOG,
  });
}
