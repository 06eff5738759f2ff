// noProxy matching as curl and Go's httpproxy read it: "*" matches all, "example.com" matches the
// host and its subdomains, ".example.com" only subdomains, IPs exactly, CIDRs by range.
import { BlockList, isIP } from 'node:net';

export function bypassesProxy(host: string, noProxy: readonly string[]): boolean {
  const target = host.toLowerCase().replace(/^\[|\]$/g, '');
  const family = isIP(target);
  for (const raw of noProxy) {
    const entry = raw.toLowerCase().trim().replace(/:\d+$/, '');
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (family !== 0 && cidrContains(entry, target, family)) return true;
      continue;
    }
    if (isIP(entry) !== 0) {
      if (entry === target) return true;
      continue;
    }
    const domain = entry.replace(/^\*?\./, '');
    if (entry.startsWith('.') || entry.startsWith('*.')) {
      if (target.endsWith(`.${domain}`)) return true;
    } else if (target === domain || target.endsWith(`.${domain}`)) {
      return true;
    }
  }
  return false;
}

function cidrContains(cidr: string, address: string, family: number): boolean {
  const [network, prefix] = cidr.split('/');
  const networkFamily = isIP(network ?? '');
  if (networkFamily === 0 || networkFamily !== family) return false;
  const list = new BlockList();
  try {
    list.addSubnet(network as string, Number(prefix), family === 6 ? 'ipv6' : 'ipv4');
  } catch {
    return false;
  }
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
