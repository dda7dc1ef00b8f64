import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/standins/azurite.ts';
import { startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';
import { HealthService } from '../../shared/ops/health.ts';
import { createAzureCredential } from '../../shared/secrets/client.ts';
import { createTables } from '../../shared/storage/tables.ts';
import { startTestApp, type TestApp, testConfig } from '../helpers/stack.ts';

describe('GET /api/health', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers 200 with both checks ok and nothing secret', async () => {
    app = await startTestApp();
    const r = await fetch(`${app.url}/api/health`);
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body).toMatchObject({ status: 'ok', checks: { tables: 'ok', secrets: 'ok' } });
    expect(JSON.stringify(body)).not.toMatch(/devstoreaccount1|AccountKey|token/i);
  });

  it('anonymous health says only status and checks: no integration ids or dates (details are admin-only)', async () => {
    app = await startTestApp();
    const expired = await app.admin('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title: 'Expired app',
        tenant: '11111111-2222-3333-4444-555555555555',
        applicationId: '66666666-7777-8888-9999-000000000000',
        clientSecret: 'not-a-real-secret-value',
        clientSecretExpiresOn: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
      },
    });
    expect(expired.status, await expired.clone().text()).toBe(201);
    const { id } = await expired.json();
    const anonymous = await fetch(`${app.url}/api/health`);
    expect(anonymous.status).toBe(200);
    const body = await anonymous.json();
    expect(body).toEqual({ status: 'ok', checks: { tables: 'ok', secrets: 'ok' } });
    const text = JSON.stringify(body);
    expect(text).not.toContain(id);
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}|[0-9a-f]{8}-[0-9a-f]{4}-/i);
    // The details are on the admin route, which anonymous callers cannot read.
    expect((await fetch(`${app.url}/api/manage/health`)).status).toBe(401);
    const detailed = await (await app.admin('/api/manage/health')).json();
    expect(detailed.warnings.map((w: { integrationId: string }) => w.integrationId)).toContain(id);
  });

  it('answers 503 naming the secrets check when Key Vault is down', async () => {
    const vault = await startKeyVaultStandIn();
    try {
      app = await startTestApp({ env: { BROKER_KEY_VAULT_URI: vault.url } });
      vault.setDown(true);
      const r = await fetch(`${app.url}/api/health`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({
        status: 'degraded',
        checks: { tables: 'ok', secrets: 'failing' },
      });
    } finally {
      await vault.close();
    }
  });

  it('answers 503 naming the tables check when Table Storage is down', async () => {
    const port = await freePort();
    const deadTables = createTables(
      testConfig({ BROKER_TABLE_ENDPOINT: `http://127.0.0.1:${port}/devstoreaccount1` }),
      createAzureCredential(testConfig()),
    );
    app = await startTestApp();
    // Swap only the probe: the app's own token table must keep working for the other routes.
    app.services.health = new HealthService(
      deadTables.settings,
      app.services.secrets,
      app.services.clock,
      app.services.log,
    );
    const r = await fetch(`${app.url}/api/health`);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ checks: { tables: 'failing', secrets: 'ok' } });
  });
});
