/**
 * Local certificate authority for the HTTPS stand-ins (dev and test tooling only).
 *
 * Generated on first use into `.local/ca/` (git-ignored). Production code never sees this module:
 * it trusts the CA only through NODE_EXTRA_CA_CERTS, pointed at `bundle.pem` (the system bundle
 * plus this CA) by `npm start` and `npm test`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const caDir = path.join(repoRoot, '.local', 'ca');
const SYSTEM_BUNDLE_CANDIDATES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

export interface LocalCa {
  certPem: string;
  keyPem: string;
  /** System CA bundle plus the local CA: the file NODE_EXTRA_CA_CERTS points at. */
  bundlePath: string;
  caCertPath: string;
}

function rsaKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function serial(): string {
  // Positive 16-byte serial.
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

function createCa(): { certPem: string; keyPem: string } {
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 5 * 365 * 24 * 3600 * 1000);
  const attrs = [
    { name: 'commonName', value: 'Identity Broker local development CA' },
    { name: 'organizationName', value: 'identity-broker (local only)' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

function systemBundle(): string {
  for (const p of SYSTEM_BUNDLE_CANDIDATES) if (existsSync(p)) return readFileSync(p, 'utf8');
  return '';
}

/** Loads the local CA, creating it on first use. Safe when several processes race. */
export function ensureLocalCa(dir = caDir): LocalCa {
  const certPath = path.join(dir, 'ca.pem');
  const keyPath = path.join(dir, 'ca-key.pem');
  const bundlePath = path.join(dir, 'bundle.pem');
  if (!existsSync(certPath) || !existsSync(keyPath) || !existsSync(bundlePath)) {
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(tmp, { recursive: true });
    const ca = createCa();
    writeFileSync(path.join(tmp, 'ca.pem'), ca.certPem);
    writeFileSync(path.join(tmp, 'ca-key.pem'), ca.keyPem, { mode: 0o600 });
    writeFileSync(path.join(tmp, 'bundle.pem'), `${systemBundle().trimEnd()}\n${ca.certPem}`);
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      if (existsSync(dir) && !existsSync(certPath)) rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } catch {
      // Another process won the race: use its CA.
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return {
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
    bundlePath,
    caCertPath: certPath,
  };
}

const serverCertCache = new Map<string, { cert: string; key: string }>();

/** A TLS server certificate for localhost / 127.0.0.1 signed by the local CA. */
export function serverCertificate(hostnames: string[] = ['localhost'], ca = ensureLocalCa()) {
  const cacheKey = hostnames.join(',');
  const cached = serverCertCache.get(cacheKey);
  if (cached) return cached;
  const keys = rsaKeyPair();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: hostnames[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...hostnames.map((h) => ({ type: 2, value: h })), { type: 7, ip: '127.0.0.1' }],
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  const result = { cert: `${forge.pki.certificateToPem(cert)}${ca.certPem}`, key: keys.privatePem };
  serverCertCache.set(cacheKey, result);
  return result;
}
