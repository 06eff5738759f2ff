// stunnel_tcp_proxy and noProxy, as MTC spells them.
import { z } from 'zod';

export interface ProxyTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

export function parseProxyUrl(value: string): ProxyTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be a URL like http://user:pass@host:port');
  }
  if (url.protocol !== 'http:') throw new Error(`must use http:// (got ${url.protocol}//)`);
  if (!url.hostname) throw new Error('has no host');
  if (url.pathname !== '/' && url.pathname !== '') throw new Error('must not have a path');
  const port = url.port ? Number(url.port) : 80;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

export const proxySettingsSchema = z.object({
  stunnel_tcp_proxy: z.string().default('').superRefine((value, ctx) => {
    if (value === '') return;
    try {
      parseProxyUrl(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  }),
  /** Comma-separated: host names, .suffix domains, IPs, CIDRs, or *. */
  noProxy: z.union([z.string(), z.array(z.string())]).default('')
    .transform((value) => (Array.isArray(value) ? value : value.split(','))
      .map((entry) => entry.trim()).filter((entry) => entry.length > 0)),
});

export type ProxySettings = z.infer<typeof proxySettingsSchema>;

/** The proxy URL with its password replaced, for logs and events. */
export function redactProxyUrl(value: string): string {
  return value.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
