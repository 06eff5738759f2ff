// Per-run PKI: a throw-away CA, one server certificate, and one client certificate per destination
// PVC (its identity as a URI SAN, checked by the server). ECDSA P-256 keys are
// fast to make and to handshake with; nothing here is ever written to a log.
// (@peculiar/x509 needs the reflect-metadata polyfill loaded before it.)
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends PemPair {
  cert: x509.X509Certificate;
  privateKey: CryptoKey;
}

export interface LeafRequest {
  commonName: string;
  usage: 'server' | 'client';
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

export interface RunPki {
  ca: CertificateAuthority;
  server: PemPair;
  /** One client certificate per destination PVC identity (pvcIdentity), for that PVC only. */
  clients: Record<string, PemPair>;
}

function randomSerial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function createCertificateAuthority(commonName: string, validDays = 7): Promise<CertificateAuthority> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 5 * 60 * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + validDays * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, privateKey: keys.privateKey, certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

export async function issueCertificate(ca: CertificateAuthority, request: LeafRequest): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = request.notBefore ?? new Date(Date.now() - 5 * 60 * 1000);
  const notAfter = request.notAfter ?? new Date(ca.cert.notAfter.getTime());
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(request.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${request.commonName}`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([request.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      ...(altNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(altNames)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

export interface RunPkiRequest {
  runId: string;
  /** Every name the client may dial the server by (Route host, Service DNS, localhost). */
  serverDnsNames: string[];
  serverIpAddresses?: string[];
  /** The destination PVC identities a client certificate is made for, one certificate each. */
  clientIdentities: string[];
  validDays?: number;
}

export async function createRunPki(request: RunPkiRequest): Promise<RunPki> {
  const ca = await createCertificateAuthority(`dvm-ca-${request.runId}`, request.validDays);
  const server = await issueCertificate(ca, {
    commonName: request.serverDnsNames[0] ?? `dvm-server-${request.runId}`,
    usage: 'server',
    dnsNames: request.serverDnsNames,
    ipAddresses: request.serverIpAddresses ?? [],
  });
  const clients: Record<string, PemPair> = {};
  for (const identity of request.clientIdentities) {
    clients[identity] = await issueCertificate(ca, { commonName: `dvm-client-${request.runId}`, usage: 'client', uris: [identity] });
  }
  return { ca, server, clients };
}
