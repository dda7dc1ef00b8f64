/**
 * A self-signed X.509 certificate for a public RSA key whose private half lives elsewhere (Key Vault):
 * the to-be-signed part is built here in DER and handed to a signer, so the private key never has to
 * be in this process. Entra only needs the certificate to name the key and its validity (it reads the
 * public key, the thumbprint and the dates), so the certificate carries a common name, the dates, and
 * a critical keyUsage of digitalSignature; nothing else.
 */
import { createHash, type KeyObject, randomBytes } from 'node:crypto';

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const COMMON_NAME = '2.5.4.3';
const KEY_USAGE = '2.5.29.15';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A non-negative INTEGER (a leading zero keeps the sign bit clear). */
function integer(value: Buffer): Buffer {
  let v = value;
  while (v.length > 1 && v[0] === 0 && ((v[1] ?? 0) & 0x80) === 0) v = v.subarray(1);
  return tlv(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

const name = (cn: string) => sequence(set(sequence(oid(COMMON_NAME), tlv(0x0c, Buffer.from(cn, 'utf8')))));
const algorithm = () => sequence(oid(SHA256_WITH_RSA), Buffer.from([0x05, 0x00]));

function keyUsageDigitalSignature(): Buffer {
  const bits = tlv(0x03, Buffer.from([0x07, 0x80]));
  return tlv(0xa3, sequence(sequence(oid(KEY_USAGE), tlv(0x01, Buffer.from([0xff])), tlv(0x04, bits))));
}

export interface CertificateRequest {
  publicKey: KeyObject;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  /** Signs the DER of the to-be-signed certificate with RSASSA-PKCS1-v1_5 SHA-256 (RS256). */
  sign(tbs: Buffer): Promise<Buffer>;
}

/** The DER of a self-signed v3 certificate for the key, signed by `sign`. */
export async function selfSignedCertificate(req: CertificateRequest): Promise<Buffer> {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01;
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm(),
    name(req.commonName),
    sequence(time(req.notBefore), time(req.notAfter)),
    name(req.commonName),
    req.publicKey.export({ type: 'spki', format: 'der' }),
    keyUsageDigitalSignature(),
  );
  const signature = await req.sign(tbs);
  return sequence(tbs, algorithm(), tlv(0x03, Buffer.from([0]), signature));
}

export interface CertificateThumbprints {
  /** SHA-1 of the DER, upper-case hex: the "Thumbprint" Entra shows under Certificates. */
  sha1: string;
  sha256: string;
  /** The JOSE headers naming the certificate (RFC 7515 §4.1.7, §4.1.8). */
  x5t: string;
  x5tS256: string;
}

export function thumbprints(der: Buffer): CertificateThumbprints {
  const sha1 = createHash('sha1').update(der).digest();
  const sha256 = createHash('sha256').update(der).digest();
  return {
    sha1: sha1.toString('hex').toUpperCase(),
    sha256: sha256.toString('hex').toUpperCase(),
    x5t: sha1.toString('base64url'),
    x5tS256: sha256.toString('base64url'),
  };
}

export function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export function fromPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''), 'base64');
}
