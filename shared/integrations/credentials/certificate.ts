/**
 * A certificate credential: a new non-exportable RSA key in Key Vault and a self-signed certificate
 * for it, signed through the vault. The admin uploads the certificate (public half only) to the app
 * registration; the broker then signs client assertions through the vault's sign operation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { selfSignedCertificate, thumbprints, toPem } from '../../entra/x509.ts';
import type { VaultSigningKey } from '../../secrets/keys.ts';
import type { StoredCredential } from './kinds.ts';

/** How long a new certificate is valid; warned 30 days before it ends, like a client secret. */
export const CERTIFICATE_VALIDITY_DAYS = 365;
const DAY_MS = 86_400_000;
/** A little backdating, so a host whose clock is slightly behind Entra's is not "not yet valid". */
const BACKDATE_MS = 10 * 60_000;

export interface CertificateVault {
  create(name: string, tags: Record<string, string>): Promise<VaultSigningKey>;
  signDigest(keyId: string, digest: Buffer): Promise<Buffer>;
  remove(name: string): Promise<void>;
}

/** `integration-<id>-cert-<random>`: never reused, so a soft-deleted key never collides. */
export function certificateKeyName(integrationId: string): string {
  return `integration-${integrationId}-cert-${randomBytes(4).toString('hex')}`;
}

export async function createCertificateCredential(
  vault: CertificateVault,
  integrationId: string,
  nowMs: number,
): Promise<Extract<StoredCredential, { kind: 'certificate' }>> {
  const keyName = certificateKeyName(integrationId);
  const key = await vault.create(keyName, { integrationId, kind: 'integration-certificate' });
  const notBefore = new Date(nowMs - BACKDATE_MS);
  const notAfter = new Date(nowMs + CERTIFICATE_VALIDITY_DAYS * DAY_MS);
  let der: Buffer;
  try {
    der = await selfSignedCertificate({
      publicKey: key.publicKey,
      commonName: `identity-broker integration ${integrationId}`,
      notBefore,
      notAfter,
      sign: (tbs) => vault.signDigest(key.keyId, createHash('sha256').update(tbs).digest()),
    });
  } catch (err) {
    await vault.remove(keyName);
    throw err;
  }
  const t = thumbprints(der);
  return {
    kind: 'certificate',
    keyName,
    keyId: key.keyId,
    pem: toPem(der),
    thumbprint: t.sha1,
    x5t: t.x5t,
    x5tS256: t.x5tS256,
    notBefore: notBefore.toISOString(),
    expiresOn: new Date(Math.floor(notAfter.getTime() / 1000) * 1000).toISOString(),
    addedAt: new Date(nowMs).toISOString(),
  };
}
