// TLS settings shared by the agent's server and its dialer. TLS 1.3 suites are all AEAD; AES-128-GCM
// first because every x86 and arm64 node has AES instructions, which makes it the cheapest per byte.
import { readFileSync } from 'node:fs';
import type { SecureVersion } from 'node:tls';

export const TLS13_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
/** Only used when an operator lowers tlsMinVersion to TLSv1.2 for an old middlebox. */
const TLS12_CIPHERS = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`cannot read TLS ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return { ca: read('ca', files.ca), cert: read('cert', files.cert), key: read('key', files.key) };
}

export function cipherOptions(minVersion: SecureVersion): { minVersion: SecureVersion; ciphersuites: string; ciphers?: string } {
  return {
    minVersion,
    ciphersuites: TLS13_CIPHERS,
    ...(minVersion === 'TLSv1.2' ? { ciphers: TLS12_CIPHERS } : {}),
  };
}
