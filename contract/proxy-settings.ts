// stunnel_tcp_proxy and noProxy, as MTC spells them.
import { z } from 'zod';
import { parseProxyUrl } from './proxy-url.js';

export { parseProxyUrl, redactProxyUrl, type ProxyTarget } from './proxy-url.js';

export const proxySettingsSchema = z.object({
  stunnel_tcp_proxy: z
    .string()
    .default('')
    .superRefine((value, ctx) => {
      if (value === '') return;
      try {
        parseProxyUrl(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
  /** Comma-separated: host names, .suffix domains, IPs, CIDRs, or *. */
  noProxy: z
    .union([z.string(), z.array(z.string())])
    .default('')
    .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((entry) => entry.trim()).filter((entry) => entry.length > 0)),
});

export type ProxySettings = z.infer<typeof proxySettingsSchema>;
