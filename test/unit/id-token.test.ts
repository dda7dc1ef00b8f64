/**
 * docs/security.md CB3–CB7: the broker's own ID token validation, against tokens minted with jose the way
 * the OpenID conformance suite's relying-party cases do (invalid iss, aud, signature, alg none, nonce…).
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, exportJWK, type JWK, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { CONSUMER_TENANT_ID, IdTokenError, IdTokenValidator } from '../../shared/signin/id-token.ts';

const HOST = 'https://login.example.test';
const config = { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: HOST };
const TENANT = '11111111-2222-4333-8444-555555555555';
const OTHER_TENANT = '99999999-2222-4333-8444-555555555555';
const APP = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const NONCE = 'n-0123456789abcdef';
const NOW = Date.parse('2026-11-27T12:00:00Z');

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
let jwk: JWK;
let validator: IdTokenValidator;
const clock = manualClock(NOW);

beforeAll(async () => {
  jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks = createLocalJWKSet({ keys: [jwk] });
  validator = new IdTokenValidator(() => jwks, clock, config);
});

function claims(overrides: Record<string, unknown> = {}) {
  const iat = Math.floor(NOW / 1000);
  return {
    iss: `${HOST}/${TENANT}/v2.0`,
    aud: APP,
    tid: TENANT,
    oid: '0f0f0f0f-1111-4222-8333-444444444444',
    sub: 'pairwise-sub',
    preferred_username: 'alice@contoso.example',
    email: 'alice@contoso.example',
    name: 'Alice',
    nonce: NONCE,
    ver: '2.0',
    iat,
    nbf: iat,
    exp: iat + 3600,
    ...overrides,
  };
}

async function mint(
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  key = privateKey,
) {
  const body = claims(overrides);
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete (body as Record<string, unknown>)[k];
  return new SignJWT(body).setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT', ...header }).sign(key);
}

const expectations = (o: Partial<Parameters<IdTokenValidator['validate']>[1]> = {}) => ({
  cloud: 'public' as const,
  applicationId: APP,
  allowedTenantIds: [TENANT],
  nonce: NONCE,
  ...o,
});

async function reason(token: string, o: Partial<Parameters<IdTokenValidator['validate']>[1]> = {}) {
  try {
    await validator.validate(token, expectations(o));
    return 'accepted';
  } catch (err) {
    if (err instanceof IdTokenError) return err.reason;
    throw err;
  }
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('ID token validation', () => {
  it('accepts a valid token and returns the Entra identity', async () => {
    const identity = await validator.validate(await mint(), expectations());
    expect(identity).toEqual({
      tenantId: TENANT,
      objectId: '0f0f0f0f-1111-4222-8333-444444444444',
      preferredUsername: 'alice@contoso.example',
      email: 'alice@contoso.example',
      upn: null,
      name: 'Alice',
      emailDomainVerified: false,
    });
  });

  it('11: xms_edov counts only when it is literally true', async () => {
    const edov = async (v: unknown) =>
      (await validator.validate(await mint({ xms_edov: v }), expectations())).emailDomainVerified;
    expect(await edov(true)).toBe(true);
    for (const v of [false, 'true', 1, '1', null]) expect(await edov(v)).toBe(false);
  });

  describe('CB3 issuer and tenant', () => {
    it('rejects a wrong issuer', async () => {
      expect(await reason(await mint({ iss: `https://evil.example/${TENANT}/v2.0` }))).toBe('wrong_issuer');
      expect(await reason(await mint({ iss: `${HOST}/${TENANT}/` }))).toBe('wrong_issuer');
    });
    it('rejects an issuer whose tenant differs from tid', async () => {
      expect(await reason(await mint({ iss: `${HOST}/${OTHER_TENANT}/v2.0` }))).toBe('wrong_issuer');
    });
    it('rejects a foreign tenant, even with a matching issuer', async () => {
      expect(await reason(await mint({ tid: OTHER_TENANT, iss: `${HOST}/${OTHER_TENANT}/v2.0` }))).toBe(
        'wrong_tenant',
      );
    });
    it('rejects the consumer (MSA) tenant even if listed', async () => {
      const t = await mint({ tid: CONSUMER_TENANT_ID, iss: `${HOST}/${CONSUMER_TENANT_ID}/v2.0` });
      expect(await reason(t, { allowedTenantIds: [TENANT, CONSUMER_TENANT_ID] })).toBe('wrong_tenant');
    });
    it('accepts a tenant from the allowed list ("organizations")', async () => {
      const t = await mint({ tid: OTHER_TENANT, iss: `${HOST}/${OTHER_TENANT}/v2.0` });
      expect(await reason(t, { allowedTenantIds: [TENANT, OTHER_TENANT] })).toBe('accepted');
    });
    it('rejects a missing or non-GUID tid', async () => {
      expect(await reason(await mint({ tid: undefined }))).toBe('wrong_tenant');
      expect(await reason(await mint({ tid: 'contoso.example' }))).toBe('wrong_tenant');
    });
  });

  describe('CB4 audience', () => {
    it('rejects a foreign audience', async () => {
      expect(await reason(await mint({ aud: '00000000-0000-4000-8000-000000000000' }))).toBe(
        'wrong_audience',
      );
    });
    it('rejects an extra untrusted audience', async () => {
      expect(await reason(await mint({ aud: [APP, 'https://evil.example'] }))).toBe('wrong_audience');
    });
    it('rejects a foreign azp', async () => {
      expect(await reason(await mint({ azp: 'someone-else' }))).toBe('wrong_audience');
      expect(await reason(await mint({ azp: APP }))).toBe('accepted');
    });
  });

  describe('CB5 signature and algorithm', () => {
    it('rejects alg none', async () => {
      const t = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`;
      expect(await reason(t)).toBe('bad_algorithm');
    });
    it('rejects HS256 signed with the public key as the secret', async () => {
      const header = b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
      const payload = b64(claims());
      const pem = publicKey.export({ type: 'spki', format: 'pem' });
      const sig = createHmac('sha256', pem).update(`${header}.${payload}`).digest('base64url');
      expect(await reason(`${header}.${payload}.${sig}`)).toBe('bad_algorithm');
    });
    it('rejects a token signed by another key (same kid)', async () => {
      expect(await reason(await mint({}, {}, attacker.privateKey))).toBe('bad_signature');
    });
    it('rejects an unknown kid', async () => {
      expect(await reason(await mint({}, { kid: 'unknown' }, attacker.privateKey))).toBe('bad_signature');
    });
    it('ignores jku, x5u and embedded jwk headers', async () => {
      const attackerJwk = await exportJWK(attacker.publicKey);
      const t = await mint(
        {},
        { kid: 'evil', jku: 'https://evil.example/keys', x5u: 'https://evil.example/cert', jwk: attackerJwk },
        attacker.privateKey,
      );
      expect(await reason(t)).toBe('bad_signature');
    });
    it('rejects a tampered payload', async () => {
      const [h, , s] = (await mint()).split('.');
      expect(await reason(`${h}.${b64(claims({ oid: '12345678-1111-4222-8333-444444444444' }))}.${s}`)).toBe(
        'bad_signature',
      );
    });
    it('rejects garbage', async () => {
      expect(await reason('not-a-jwt')).toBe('malformed');
      expect(await reason('a.b.c')).toBe('malformed');
    });
  });

  describe('CB6 time claims (≤ 5 min skew, fake clock)', () => {
    it('rejects an expired token, tolerating 5 minutes', async () => {
      const iat = Math.floor(NOW / 1000) - 7200;
      expect(await reason(await mint({ iat, nbf: iat, exp: Math.floor(NOW / 1000) - 301 }))).toBe('expired');
      expect(await reason(await mint({ iat, nbf: iat, exp: Math.floor(NOW / 1000) - 299 }))).toBe('accepted');
    });
    it('rejects a token issued in the future', async () => {
      const iat = Math.floor(NOW / 1000) + 600;
      expect(await reason(await mint({ iat, nbf: Math.floor(NOW / 1000), exp: iat + 3600 }))).toBe(
        'issued_in_future',
      );
    });
    it('rejects a token not yet valid', async () => {
      const nbf = Math.floor(NOW / 1000) + 600;
      expect(await reason(await mint({ nbf }))).toBe('not_yet_valid');
    });
    it('moves with the clock', async () => {
      const t = await mint();
      clock.advance(2 * 3600_000);
      try {
        expect(await reason(t)).toBe('expired');
      } finally {
        clock.set(NOW);
      }
    });
  });

  describe('CB7 nonce', () => {
    it('rejects a swapped nonce', async () => {
      expect(await reason(await mint({ nonce: 'other-nonce' }))).toBe('nonce_mismatch');
    });
    it('rejects a missing nonce', async () => {
      expect(await reason(await mint({ nonce: undefined }))).not.toBe('accepted');
    });
  });

  it('requires an oid (the account key)', async () => {
    expect(await reason(await mint({ oid: undefined }))).not.toBe('accepted');
    expect(await reason(await mint({ oid: 'not-a-guid' }))).toBe('missing_claims');
  });
});
