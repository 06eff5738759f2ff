// The agent configuration files that go into the transfer pods (as Secrets), built from the plan and
// validated against the agent's own schemas, so a config the agent would refuse is never written.
import { bypassesProxy } from '../../contract/no-proxy.js';
import { clientConfigSchema, serverConfigSchema, type ClientConfig, type ServerConfig } from '../../contract/agent-config.js';
import { rsyncSettingsSchema } from '../../contract/rsync-settings.js';
import type { ControllerSettings } from '../config/settings.js';
import { HEALTH_PORT, PROGRESS_PORT, RSYNC_PORT, SOURCE_MOUNT, TERMINATION_LOG, TLS_DIR, TMP_DIR } from './names.js';
import type { ClientPlan, ServerPlan } from './plan.js';

/** Where the client dials, and the name the server certificate must carry. */
export interface EndpointAddress {
  host: string;
  port: number;
  serverName: string;
}

export const TLS_FILES = { ca: `${TLS_DIR}/ca.crt`, cert: `${TLS_DIR}/tls.crt`, key: `${TLS_DIR}/tls.key` } as const;

export function serverAgentConfig(server: ServerPlan): ServerConfig {
  return serverConfigSchema.parse({
    listen: `0.0.0.0:${RSYNC_PORT}`,
    healthListen: `0.0.0.0:${HEALTH_PORT}`,
    tls: TLS_FILES,
    modules: server.modules.map((module) => ({ name: module.module, path: module.mountPath, client: module.identity })),
    workDir: TMP_DIR,
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

export function clientAgentConfig(client: ClientPlan, endpoint: EndpointAddress, settings: ControllerSettings): ClientConfig {
  return clientConfigSchema.parse({
    pvc: client.key,
    server: { host: endpoint.host, port: endpoint.port, serverName: endpoint.serverName },
    tls: TLS_FILES,
    module: client.module,
    source: SOURCE_MOUNT,
    settings: clientAgentSettings(settings, endpoint.host),
    verify: client.pair.verify,
    progressListen: `0.0.0.0:${PROGRESS_PORT}`,
    terminationLog: TERMINATION_LOG,
  });
}
