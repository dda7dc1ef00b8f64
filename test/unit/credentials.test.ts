/**
 * Credentials without a shared secret, the pure parts: the self-signed certificate built around a
 * key held elsewhere, the client assertions of each kind, the AADSTS → field mapping, the "issuer
 * Entra cannot reach" check, and what the per-kind assertion source signs and keeps.
 */
import {
  constants,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  privateEncrypt,
  sign,
  X509Certificate,
} from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader, exportJWK, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  certificateAssertion,
  federatedAssertion,
  TOKEN_EXCHANGE_AUDIENCE,
} from '../../shared/entra/client-assertion.ts';
import { classifyEntraError, fieldToFix } from '../../shared/entra/errors.ts';
import { issuerReach } from '../../shared/entra/issuer-reach.ts';
import { fromPem, selfSignedCertificate, thumbprints, toPem } from '../../shared/entra/x509.ts';
import {
  CERTIFICATE_ASSERTION_LIFETIME_S,
  CERTIFICATE_REUSE_MARGIN_S,
  IntegrationAssertions,
} from '../../shared/integrations/credentials/assertions.ts';
import { createCertificateCredential } from '../../shared/integrations/credentials/certificate.ts';
import { expiryWarnings } from '../../shared/integrations/expiry.ts';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });

/** RS256 over a precomputed SHA-256 digest, as Key Vault's sign operation does it. */
function signDigest(key: KeyObject, digest: Buffer): Buffer {
  const info = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), digest]);
  return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, info);
}

/** A Key Vault look-alike: keeps the private key, signs digests (RS256), counts its signs. */
function fakeVault() {
  const keys = new Map<string, ReturnType<typeof rsa>>();
  const vault = {
    signs: 0,
    removed: [] as string[],
    create: async (name: string) => {
      const pair = rsa();
      keys.set(`https://vault/keys/${name}/v1`, pair);
      return { keyId: `https://vault/keys/${name}/v1`, publicKey: pair.publicKey };
    },
    signDigest: async (keyId: string, digest: Buffer) => {
      vault.signs++;
      const pair = keys.get(keyId);
      if (!pair) throw new Error('no key');
      return signDigest(pair.privateKey, digest);
    },
    remove: async (name: string) => {
      vault.removed.push(name);
    },
  };
  return vault;
}

describe('self-signed certificate for a key held elsewhere', () => {
  it('is a v3 certificate Node parses and verifies with the key, with matching thumbprints', async () => {
    const pair = rsa();
    const now = Date.UTC(2026, 0, 1);
    const der = await selfSignedCertificate({
      publicKey: pair.publicKey,
      commonName: 'identity-broker integration x',
      notBefore: new Date(now),
      notAfter: new Date(Date.UTC(2051, 0, 1)),
      sign: async (tbs) => sign('sha256', tbs, pair.privateKey),
    });
    const cert = new X509Certificate(der);
    expect(cert.verify(pair.publicKey)).toBe(true);
    expect(cert.subject).toBe('CN=identity-broker integration x');
    expect(cert.issuer).toBe(cert.subject);
    expect(new Date(cert.validFrom).getTime()).toBe(now);
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(2051);
    expect(cert.publicKey.export({ format: 'jwk' })).toEqual(pair.publicKey.export({ format: 'jwk' }));
    const t = thumbprints(der);
    expect(t.sha1).toBe(cert.fingerprint.replace(/:/g, ''));
    expect(t.sha256).toBe(cert.fingerprint256.replace(/:/g, ''));
    expect(Buffer.from(t.x5tS256, 'base64url').toString('hex').toUpperCase()).toBe(t.sha256);
    expect(fromPem(toPem(der))).toEqual(der);
    expect(toPem(der)).toMatch(
      /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/,
    );
  });

  it('is created with a new vault key whose private half never leaves the vault', async () => {
    const vault = fakeVault();
    const c = await createCertificateCredential(vault, 'i-1', Date.UTC(2026, 5, 1));
    const x509 = new X509Certificate(fromPem(c.pem));
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(c.keyName).toMatch(/^integration-i-1-cert-[0-9a-f]{8}$/);
    expect(vault.signs).toBe(1);
    const cert = new X509Certificate(fromPem(c.pem));
    expect(cert.fingerprint.replace(/:/g, '')).toBe(c.thumbprint);
    expect(Date.parse(c.expiresOn) - Date.UTC(2026, 5, 1)).toBe(365 * 86_400_000);
    const other = await createCertificateCredential(vault, 'i-1', Date.UTC(2026, 5, 1));
    expect(other.keyName).not.toBe(c.keyName);
  });
});

describe('client assertions', () => {
  it('federated: iss/sub/aud as given, a kid the JWKS names, exp ≤ 10 minutes, a fresh jti each time', async () => {
    const pair = rsa();
    const jwk = { ...(await exportJWK(pair.privateKey)), kid: 'rs-1', alg: 'RS256' };
    const claims = {
      issuer: 'https://broker.example/api/oidc',
      subject: 'integration:a',
      audience: TOKEN_EXCHANGE_AUDIENCE,
    };
    const now = Date.now();
    const a = await federatedAssertion(claims, { kid: 'rs-1', jwk }, now);
    const b = await federatedAssertion(claims, { kid: 'rs-1', jwk }, now);
    expect(decodeProtectedHeader(a)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'rs-1' });
    await compactVerify(a, await importJWK(await exportJWK(pair.publicKey), 'RS256'));
    const p = decodeJwt(a);
    expect(p).toMatchObject({ iss: claims.issuer, sub: claims.subject, aud: TOKEN_EXCHANGE_AUDIENCE });
    expect((p.exp ?? 0) - (p.iat ?? 0)).toBeLessThanOrEqual(600);
    expect(p.nbf).toBe(p.iat);
    expect(decodeJwt(b).jti).not.toBe(p.jti);
  });

  it('certificate: iss = sub = client id, aud = token endpoint, x5t and x5t#S256, signed over the digest', async () => {
    const pair = rsa();
    const der = Buffer.from('not a real certificate');
    const t = thumbprints(der);
    const a = await certificateAssertion(
      {
        clientId: 'app',
        tokenEndpoint: 'https://login.example/t/oauth2/v2.0/token',
        x5t: t.x5t,
        x5tS256: t.x5tS256,
        signDigest: async (digest) => signDigest(pair.privateKey, digest),
      },
      Date.now(),
    );
    expect(decodeProtectedHeader(a)).toEqual({ alg: 'RS256', typ: 'JWT', x5t: t.x5t, 'x5t#S256': t.x5tS256 });
    await compactVerify(a, pair.publicKey);
    expect(decodeJwt(a)).toMatchObject({
      iss: 'app',
      sub: 'app',
      aud: 'https://login.example/t/oauth2/v2.0/token',
    });
    expect(createHash('sha1').update(der).digest('base64url')).toBe(t.x5t);
  });
});

describe('certificate expiry (docs/security.md SE3)', () => {
  it('is warned 30 days ahead like a secret, as a certificate', () => {
    const now = Date.UTC(2026, 0, 1);
    const soon = new Date(now + 10 * 86_400_000).toISOString();
    const later = new Date(now + 60 * 86_400_000).toISOString();
    const past = new Date(now - 86_400_000).toISOString();
    const w = expiryWarnings(
      [
        { id: 'c1', secretExpiresOn: soon, credentialKind: 'certificate' },
        { id: 'c2', secretExpiresOn: later, credentialKind: 'certificate' },
        { id: 'c3', secretExpiresOn: past, credentialKind: 'certificate' },
      ],
      now,
    );
    expect(w.map((x) => [x.integrationId, x.code])).toEqual([
      ['c3', 'integration_certificate_expired'],
      ['c1', 'integration_certificate_expiring'],
    ]);
    expect(w[1]?.message).toMatch(/certificate of integration c1 expires in 10 day/);
  });
});

describe("Entra's answers to the field to fix", () => {
  const cases: [number, string, string | undefined][] = [
    [700211, 'federated_issuer_mismatch', 'issuer'],
    [700213, 'federated_subject_mismatch', 'subject'],
    [70021, 'federated_audience_mismatch', 'audience'],
    [50166, 'issuer_unreachable', 'publicBaseUrl'],
    [7000272, 'assertion_key_unknown', 'publicBaseUrl'],
    [700027, 'assertion_signature_invalid', 'certificate'],
    [700024, 'assertion_outside_validity', 'clock'],
    [50013, 'assertion_replayed', undefined],
    [700016, 'unknown_application', 'applicationId'],
    [7000215, 'wrong_secret', 'clientSecret'],
  ];
  it.each(cases)('AADSTS%i → %s → %s', (code, kind, field) => {
    const c = classifyEntraError({ errorNo: String(code), errorMessage: `AADSTS${code}: text` });
    expect(c.kind).toBe(kind);
    expect(fieldToFix(c.kind)).toBe(field);
  });
});

describe('an issuer Entra cannot reach', () => {
  it.each([
    ['http://localhost:7071/api/oidc', 'local_host'],
    ['https://localhost/api/oidc', 'local_host'],
    ['https://broker.local/api/oidc', 'local_host'],
    ['https://broker/api/oidc', 'local_host'],
    ['https://127.0.0.1/api/oidc', 'private_address'],
    ['https://10.1.2.3/api/oidc', 'private_address'],
    ['https://172.20.0.1/api/oidc', 'private_address'],
    ['https://192.168.1.5/api/oidc', 'private_address'],
    ['https://[::1]/api/oidc', 'private_address'],
    ['https://[fd00::1]/api/oidc', 'private_address'],
    ['http://broker.example.com/api/oidc', 'not_https'],
  ])('%s → %s', (issuer, problem) => {
    const r = issuerReach(issuer);
    expect(r.publiclyReachable).toBe(false);
    expect(r.problem).toBe(problem);
    expect(r.message).toMatch(/BROKER_PUBLIC_BASE_URL/);
  });
  it('a public https address is fine', () => {
    expect(issuerReach('https://broker.contoso.com/api/oidc')).toEqual({ publiclyReachable: true });
    expect(issuerReach('https://20.1.2.3/api/oidc').publiclyReachable).toBe(true);
  });
});

describe('the assertion source per kind (docs/security.md CR1, CR2)', () => {
  async function setup() {
    const pair = rsa();
    const jwk = { ...(await exportJWK(pair.privateKey)), kid: 'rs-1', alg: 'RS256' };
    let now = Date.UTC(2026, 0, 1);
    const vault = fakeVault();
    const mi = { calls: 0 };
    const assertions = new IntegrationAssertions({
      op: {
        issuer: 'https://broker.example/api/oidc',
        assertionSigningKey: async () => ({ kid: 'rs-1', jwk }),
      },
      managedIdentity: {
        exchangeToken: async () => {
          mi.calls++;
          return 'mi-token';
        },
      },
      vault,
      now: () => now,
    });
    return { assertions, vault, mi, advance: (ms: number) => (now += ms), publicKey: pair.publicKey };
  }
  const req = { clientId: 'app', tokenEndpoint: 'https://login.example/t/oauth2/v2.0/token' };
  const assertionOf = (c: ReturnType<IntegrationAssertions['credentialFor']>) => {
    if (!('clientAssertion' in c)) throw new Error('expected an assertion');
    return c.clientAssertion(req);
  };

  it("federated: each request gets a fresh assertion whose sub is that integration's and no other's", async () => {
    const { assertions } = await setup();
    const fed = { kind: 'federated', addedAt: 'x' } as const;
    const a1 = await assertionOf(assertions.credentialFor('aaaa', fed, undefined));
    const a2 = await assertionOf(assertions.credentialFor('aaaa', fed, undefined));
    const b = await assertionOf(assertions.credentialFor('bbbb', fed, undefined));
    expect(decodeJwt(a1).sub).toBe('integration:aaaa');
    expect(decodeJwt(b).sub).toBe('integration:bbbb');
    expect(decodeJwt(a2).jti).not.toBe(decodeJwt(a1).jti);
    expect(assertions.stats.federatedSigned).toBe(3);
  });

  it('certificate: one vault sign per assertion lifetime, shared by concurrent requests', async () => {
    const { assertions, vault, advance } = await setup();
    const cert = await createCertificateCredential(vault, 'cccc', Date.UTC(2026, 0, 1));
    vault.signs = 0;
    const source = assertions.credentialFor('cccc', cert, undefined);
    const [x, y] = await Promise.all([assertionOf(source), assertionOf(source)]);
    expect(x).toBe(y);
    expect(vault.signs).toBe(1);
    advance((CERTIFICATE_ASSERTION_LIFETIME_S - CERTIFICATE_REUSE_MARGIN_S - 1) * 1000);
    expect(await assertionOf(source)).toBe(x);
    expect(vault.signs).toBe(1);
    advance(2000);
    const z = await assertionOf(source);
    expect(z).not.toBe(x);
    expect(vault.signs).toBe(2);
    expect(decodeProtectedHeader(z)['x5t#S256']).toBe(cert.x5tS256);
  });

  it('managed identity: the identity token, fetched through the (caching) credential', async () => {
    const { assertions, mi } = await setup();
    const c = assertions.credentialFor(
      'dddd',
      { kind: 'managedIdentity', issuer: 'i', subject: 's', addedAt: 'x' },
      undefined,
    );
    expect(await assertionOf(c)).toBe('mi-token');
    expect(mi.calls).toBe(1);
  });

  it('client secret: the secret, no assertion', async () => {
    const { assertions } = await setup();
    const c = assertions.credentialFor(
      'eeee',
      { kind: 'clientSecret', secretName: 'n', version: 'v', expiresOn: null, updatedOn: 'x' },
      'value',
    );
    expect(c).toEqual({ clientSecret: 'value' });
  });
});
