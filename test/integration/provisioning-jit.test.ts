/**
 * Just-in-time creation: off by default; when an integration turns it on, an unknown Entra user's
 * first IdP-first sign-in creates the user (assigned to the integration, bound to its identity,
 * audited), and the next sign-in matches by the binding.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountObjectId, DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { BrokerBrowser, createDemoIntegration } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

describe('just-in-time creation', () => {
  let app: TestApp;
  let integrationId: string;
  beforeAll(async () => {
    app = await startTestApp();
    integrationId = (await createDemoIntegration(app)).id;
  });
  afterAll(async () => app?.close());

  async function idpFirst(account: string) {
    const b = new BrokerBrowser(app);
    const start = await b.get(`/api/auth/login/${integrationId}`);
    const cb = await b.get(await b.entraLogin(start.headers.get('location') as string, account));
    return { b, cb };
  }

  it('is off by default: an unknown identity gets the 403 page and no user', async () => {
    const name = `jit-off-${randomUUID().slice(0, 6)}`;
    const { cb } = await idpFirst(name);
    expect(cb.status).toBe(403);
    expect((await app.admin(`/api/manage/users/${name}@${DEMO_ENTRA.domain}`)).status).toBe(404);
  });

  it('on: the first sign-in creates the user, bound; the next one matches by the binding', async () => {
    const on = await app.admin(`/api/manage/integrations/${integrationId}/provisioning`, {
      method: 'PATCH',
      json: { jitProvisioning: true },
    });
    expect(on.status, await on.clone().text()).toBe(200);
    const name = `jit-${randomUUID().slice(0, 6)}`;
    const username = `${name}@${DEMO_ENTRA.domain}`;
    const first = await idpFirst(name);
    expect(first.cb.status, await first.cb.clone().text()).toBe(302);
    expect((await first.b.session()).status).toBe(200);
    const user = await (await app.admin(`/api/manage/users/${username}`)).json();
    expect(user).toMatchObject({
      username,
      verifyType: { kind: 'integration', integrationId },
      roles: [],
      disabled: false,
      entraBinding: { tenantId: DEMO_ENTRA.tenantId, objectId: accountObjectId(DEMO_ENTRA.tenantId, name) },
    });
    const audit = await app.services.auditQuery.list({ type: 'jit.user.created' });
    expect(audit.items.find((e) => e.target === `user:${username}`)?.actor).toBe(`jit:${integrationId}`);
    const again = await idpFirst(name);
    expect(again.cb.status).toBe(302);
    const after = await (await app.admin(`/api/manage/users/${username}`)).json();
    expect(after.id).toBe(user.id);
  });
});
