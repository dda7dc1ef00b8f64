/**
 * The OP's keys and storage: signing and cookie keys generated on first use in Key Vault, rotation
 * keeping the previous public key published (tokens signed before still verify), ES256 ID tokens for
 * clients that register it, form_post responses allowed by their CSP, and no artifact id (token,
 * code or cookie value) in any table row.
 */
import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OIDC_COOKIE_SECRET, OIDC_SIGNING_SECRET } from '../../shared/oidc/keys.ts';
import { authorize, createApplication, PASSWORD, type RegisteredApp, redeem } from '../helpers/oidc.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

describe('OpenID Provider: keys and storage', () => {
  let app: TestApp;
  let rp: RegisteredApp;
  const pw = { kind: 'password' as const, username: 'keys-user' };

  beforeAll(async () => {
    app = await startTestApp();
    await createUser(app, { username: 'keys-user', verifyType: 'password', password: PASSWORD });
    rp = await createApplication(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  const jwks = async () =>
    (await (await fetch(`${app.url}/api/oidc/jwks`)).json()) as { keys: { kid: string; alg: string }[] };

  it('keeps its keys in Key Vault (no private key published) and rotates them: the previous public keys stay in the JWKS', async () => {
    const b = new BrokerBrowser(app);
    const before = await redeem(rp, await authorize(b, rp, { login: pw }));
    const oldKid = decodeProtectedHeader(before.id_token as string).kid;
    const first = await jwks();
    expect(first.keys.map((k) => k.kid)).toContain(oldKid);
    expect(JSON.stringify(first)).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
    const signing = await app.services.secrets.getSecret(OIDC_SIGNING_SECRET);
    expect(signing.value).toContain('"d"');
    await app.services.secrets.getSecret(OIDC_COOKIE_SECRET);

    await app.services.oidc.rotateKeys();
    const after = await jwks();
    expect(after.keys).toHaveLength(4);
    expect(after.keys.map((k) => k.kid)).toContain(oldKid);
    // The old ID token still verifies against the published set.
    const set = createLocalJWKSet(after as Parameters<typeof createLocalJWKSet>[0]);
    await expect(jwtVerify(before.id_token as string, set)).resolves.toBeDefined();

    // New tokens use the new key; the old browser's OP cookies (old cookie key) do not break SSO.
    const next = await redeem(rp, await authorize(b, rp, { login: pw }));
    const newKid = decodeProtectedHeader(next.id_token as string).kid;
    expect(newKid).not.toBe(oldKid);
    expect(after.keys[0]?.kid).toBe(newKid);
  });

  it('signs ID tokens with ES256 for a client that registers it (RS256 otherwise)', async () => {
    const es = await createApplication(app, { idTokenSignedResponseAlg: 'ES256' });
    const b = new BrokerBrowser(app);
    const t = await redeem(es, await authorize(b, es, { login: pw }));
    expect(decodeProtectedHeader(t.id_token as string).alg).toBe('ES256');
    const r = await redeem(rp, await authorize(b, rp, { login: { kind: 'none' } }));
    expect(decodeProtectedHeader(r.id_token as string).alg).toBe('RS256');
  });

  it('response_mode=form_post: an auto-submitting form to the registered URI, its script allowed by hash only', async () => {
    const b = new BrokerBrowser(app);
    await redeem(rp, await authorize(b, rp, { login: pw }));
    const r = await authorize(b, rp, { params: { response_mode: 'form_post' }, login: { kind: 'none' } });
    expect(r.last.status).toBe(200);
    const html = await r.last.text();
    expect(html).toContain('action="http://127.0.0.1:8400/callback"');
    expect(html).toMatch(/name="code" value="[^"]+"/);
    const csp = r.last.headers.get('content-security-policy') ?? '';
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    const hash = createHash('sha256').update(script).digest('base64');
    expect(csp).toContain(`'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.last.headers.get('cache-control')).toContain('no-store');
  });

  it('stores no artifact id (code, token, session cookie value) in any row', async () => {
    const b = new BrokerBrowser(app);
    const r = await authorize(b, rp, { login: pw });
    const code = r.callbackUrl?.searchParams.get('code') as string;
    const t = await redeem(rp, r);
    // A pending interaction of a signed-in OP session (it would copy the session cookie's value).
    const pending = await authorize(b, rp, { prompt: 'login', login: { kind: 'none' } });
    expect(pending.loginPages).toBe(1);
    const secrets = [code, t.access_token, t.refresh_token as string, ...b.jar.cookies.values()].filter(
      (v) => v && v.length > 15,
    );
    const rows: string[] = [];
    for await (const e of app.services.tables.oidcStore.listEntities()) rows.push(JSON.stringify(e));
    expect(rows.length).toBeGreaterThan(5);
    for (const s of secrets)
      expect(
        rows.some((row) => row.includes(s)),
        s.slice(0, 6),
      ).toBe(false);
  });
});
