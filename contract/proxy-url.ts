// stunnel_tcp_proxy's URL form, parsed without the settings schema so the dialer needs no schema
// library.

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

/** The proxy URL with its password replaced, for logs and events. */
export function redactProxyUrl(value: string): string {
  return value.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
