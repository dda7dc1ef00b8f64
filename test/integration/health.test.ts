import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/standins/azurite.ts';
import { startKeyVaultStandIn } from '../../scripts/standins/keyvault.ts';
import { HealthService } from '../../shared/health.ts';
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
