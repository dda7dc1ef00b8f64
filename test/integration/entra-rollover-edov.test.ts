/**
 * Two Entra behaviours, against this file's own Entra stand-in (its keys are rotated here, so the
 * suite's shared stand-in is left alone):
 *  - signing-key rollover: after the IdP rotates its key, the next sign-in succeeds (the broker
 *    refetches the tenant's keys on the unknown kid instead of waiting for its cache to expire);
 *  - first binding by email needs Entra's `xms_edov` (email domain owner verified) to be true.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accountObjectId,
  DEMO_ENTRA,
  type EntraStandIn,
  startEntraStandIn,
  UNVERIFIED_EMAIL_PREFIX,
} from '../../scripts/standins/entra.ts';
import { KEY_REFETCH_COOLDOWN_MS } from '../../shared/signin/id-token.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let entra: EntraStandIn;
let app: TestApp;
let integration: { id: string };
let emailIntegration: { id: string };

beforeAll(async () => {
  entra = await startEntraStandIn();
  app = await startTestApp({ env: { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: entra.host } });
  integration = await createDemoIntegration(app);
  emailIntegration = await createDemoIntegration(app, { matchClaim: 'email' });
});
afterAll(async () => {
  await app?.close();
  await entra?.close();
});

const jwksFetches = () => entra.requests.filter((r) => r.path.endsWith('/discovery/v2.0/keys')).length;

async function userRecord(username: string) {
  return (await app.admin(`/api/manage/users/${encodeURIComponent(username)}`)).json();
}

describe('10: Entra signing-key rollover', () => {
  it('refetches the keys at once on an unknown kid: the first sign-in after a rotation succeeds', async () => {
    expect(KEY_REFETCH_COOLDOWN_MS).toBeLessThanOrEqual(5000);
    await createUser(app, {
      username: 'roll',
      email: demoAccount('roll'),
      verifyType: { integrationId: integration.id },
    });
    const before = new BrokerBrowser(app);
    expect((await before.signInWithEntra('roll', 'roll')).callback.status).toBe(302);
    const fetchesBefore = jwksFetches();
    expect(fetchesBefore).toBeGreaterThanOrEqual(1);

    const oldKid = entra.keyId();
    const newKid = await entra.rotateKeys();
    expect(newKid).not.toBe(oldKid);
    // The key set was fetched moments ago; a refetch is allowed once the (short) cooldown is over —
    // well inside the old 30 s cache window that made sign-ins fail.
    await new Promise((r) => setTimeout(r, KEY_REFETCH_COOLDOWN_MS + 100));

    const after = new BrokerBrowser(app);
    const { callback } = await after.signInWithEntra('roll', 'roll');
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect((await (await after.session()).json()).username).toBe('roll');
    // Exactly one refetch for the unknown kid.
    expect(jwksFetches()).toBe(fetchesBefore + 1);
  }, 60_000);
});

describe('11: first binding by email requires xms_edov', () => {
  const cases = [
    [
      'username first',
      (b: BrokerBrowser, username: string, account: string) => b.signInWithEntra(username, account),
    ],
    [
      'IdP first',
      async (b: BrokerBrowser, _username: string, account: string) => {
        const start = await b.get(`/api/auth/login/${emailIntegration.id}`);
        expect(start.status).toBe(302);
        const callback = await b.get(await b.entraLogin(start.headers.get('location') as string, account));
        return { callback };
      },
    ],
  ] as const;

  for (const [route, signIn] of cases) {
    it(`${route}: email matching binds when the domain is verified (xms_edov true)`, async () => {
      const name = `edov${route === 'IdP first' ? 'i' : 'u'}`;
      await createUser(app, {
        username: name,
        email: demoAccount(name),
        verifyType: { integrationId: emailIntegration.id },
      });
      const b = new BrokerBrowser(app);
      const { callback } = await signIn(b, name, name);
      expect(callback.status, await callback.clone().text()).toBe(302);
      expect((await (await b.session()).json()).username).toBe(name);
      expect((await userRecord(name)).entraBinding).toMatchObject({
        objectId: accountObjectId(DEMO_ENTRA.tenantId, name),
      });
    });

    it(`${route}: an email whose domain is not verified (xms_edov false) never binds`, async () => {
      // A tenant admin set this Entra account's mail to the broker user's email; Entra marks it unverified.
      const account = `${UNVERIFIED_EMAIL_PREFIX}${route === 'IdP first' ? 'i' : 'u'}`;
      const victim = `victim${route === 'IdP first' ? 'i' : 'u'}`;
      await createUser(app, {
        username: victim,
        email: demoAccount(account),
        verifyType: { integrationId: emailIntegration.id },
      });
      const b = new BrokerBrowser(app);
      const { callback } = await signIn(b, victim, account);
      expect(callback.status).toBe(403);
      expect(callback.headers.get('content-type')).toMatch(/text\/html/);
      expect((await b.session()).status).toBe(401);
      expect((await userRecord(victim)).entraBinding ?? null).toBeNull();
    });
  }

  it('other match claims are not affected by xms_edov', async () => {
    // preferred_username matching (the default) still binds an account without a verified email domain.
    const account = `${UNVERIFIED_EMAIL_PREFIX}pu`;
    await createUser(app, {
      username: account,
      email: demoAccount(account),
      verifyType: { integrationId: integration.id },
    });
    const b = new BrokerBrowser(app);
    expect((await b.signInWithEntra(account, account)).callback.status).toBe(302);
  });
});
