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

const PEM_LABEL = { ca: /-----BEGIN CERTIFICATE-----/, cert: /-----BEGIN CERTIFICATE-----/, key: /-----BEGIN (EC |RSA )?PRIVATE KEY-----/ };

/** Reads the three PEM files; a missing or non-PEM file is named by its key (tls.ca and so on). */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const read = (what: keyof TlsFiles): Buffer => {
    let content: Buffer;
    try {
      content = readFileSync(files[what]);
    } catch (error) {
      throw new Error(`tls.${what}: cannot read ${files[what]}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (!PEM_LABEL[what].test(content.toString('latin1'))) {
      throw new Error(`tls.${what}: ${files[what]} holds no PEM ${what === 'key' ? 'private key' : 'certificate'}`);
    }
    return content;
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key') };
}

/** node:tls takes the TLS 1.3 suites in `ciphers` too (names starting TLS_); an option named
 * `ciphersuites`, as OpenSSL calls them, is silently ignored (and Node's own order, AES-256-GCM
 * first, is what was negotiated while the agent set that). */
export function cipherOptions(minVersion: SecureVersion): { minVersion: SecureVersion; ciphers: string } {
  return {
    minVersion,
    ciphers: minVersion === 'TLSv1.2' ? `${TLS13_CIPHERS}:${TLS12_CIPHERS}` : TLS13_CIPHERS,
  };
}
