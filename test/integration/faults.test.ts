/**
 * A dependency that is down or hangs answers 503 + Retry-After (problem+json
 * `dependency_unavailable` on the API, an HTML page on browser routes) within the SDK's short retry
 * budget, logs the cause (status, code, operation, table — never data), writes nothing half, and
 * recovers without restarting the app. Each test uses its own Azurite or a proxy in front of the
 * suite's stand-ins (test/helpers/faults.ts), so other test files are not disturbed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, supervisedAzuriteTables, waitForPort } from '../../scripts/standins/azurite.ts';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import {
  DEPENDENCY_ATTEMPT_TIMEOUT_MS,
  DEPENDENCY_RETRY_OPTIONS,
  dependencyTimeoutMs,
} from '../../shared/core/dependency.ts';
import { entraBehindProxy, keyVaultProxy, type OwnAzurite, startOwnAzurite } from '../helpers/faults.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { captureLogs, startTestApp, type TestApp } from '../helpers/stack.ts';

/** Worst case of one storage/vault call, from the configured policy (no timing is asserted). */
function worstCaseMs(): number {
  const { maxRetries, retryDelayInMs, maxRetryDelayInMs } = DEPENDENCY_RETRY_OPTIONS;
  let delays = 0;
  for (let i = 0; i < maxRetries; i++) delays += Math.min(maxRetryDelayInMs, retryDelayInMs * 2 ** i);
  // A refused call is retried (fast failures); a hung one is cut at the timeout and not retried.
  return Math.max(DEPENDENCY_ATTEMPT_TIMEOUT_MS, delays + (maxRetries + 1) * 50);
}

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await f();
  return { value, ms: Math.round(performance.now() - t0) };
}

async function expectApi503(res: Response, dependency: string) {
  expect(res.status).toBe(503);
  expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  const body = await res.json();
  expect(body).toMatchObject({ code: 'dependency_unavailable', status: 503, dependency });
  return body;
}

async function expectPage503(res: Response) {
  expect(res.status).toBe(503);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  const html = await res.text();
  expect(html).toMatch(/not available right now|Try again/i);
  return html;
}

it('the retry policy bounds one failing call well under 3 s (production timeout)', () => {
  expect(dependencyTimeoutMs({ BROKER_DEV_CREDENTIALS: false })).toBe(DEPENDENCY_ATTEMPT_TIMEOUT_MS);
  expect(worstCaseMs()).toBeLessThan(3000);
  expect(DEPENDENCY_RETRY_OPTIONS.maxRetries).toBeLessThanOrEqual(2);
});

describe('Table Storage stopped and restarted mid-test', () => {
  let azurite: OwnAzurite;
  let app: TestApp;
  beforeAll(async () => {
    azurite = await startOwnAzurite();
    app = await startTestApp({
      env: {
        BROKER_TABLE_ENDPOINT: azurite.endpoint,
        BROKER_DEPENDENCY_TIMEOUT_MS: String(DEPENDENCY_ATTEMPT_TIMEOUT_MS),
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await azurite?.close();
  });

  it('answers 503 on the API and on browser pages, logs the cause, and recovers without a restart', async () => {
    await createUser(app, {
      username: 'before',
      verifyType: 'password',
      password: 'a long enough password 1',
    });
    expect((await app.admin('/api/manage/users/before')).status).toBe(200);

    await azurite.stop();
    const logs = captureLogs();
    try {
      const api = await timed(() => app.admin('/api/manage/users/before'));
      const problem = await expectApi503(api.value, 'tables');
      expect(JSON.stringify(problem)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|before/);

      const b = new BrokerBrowser(app);
      const page = await timed(() => b.post('/api/auth/login', { username: 'before' }));
      await expectPage503(page.value);

      // A write while storage is down: 503, and nothing of it exists afterwards.
      const write = await app.admin('/api/manage/users', {
        method: 'POST',
        json: { username: 'during', verifyType: 'password', password: 'a long enough password 2' },
      });
      await expectApi503(write, 'tables');
      console.info(`storage down: API 503 in ${api.ms} ms, page 503 in ${page.ms} ms`);

      const failed = logs.records.filter((r) => r.event === 'request.failed');
      expect(failed.length).toBeGreaterThanOrEqual(3);
      const f = failed[0] as Record<string, unknown>;
      expect(f.status).toBe(503);
      expect(f.problemCode).toBe('dependency_unavailable');
      expect(f.dependencyFailure).toMatchObject({
        dependency: 'tables',
        errorCode: 'ECONNREFUSED',
        operation: 'getEntity',
        // The first call of the request (the admin throttle check); the table, not its rows.
        table: expect.stringMatching(/^t[0-9a-f]{10}(Throttle|Users|AdminTokens)$/),
      });
      // Never data: no username, key or password in what was logged.
      expect(logs.lines.join('\n')).not.toMatch(/during|a long enough password|PartitionKey|RowKey/);
    } finally {
      logs.stop();
    }

    await azurite.restart();
    expect((await app.admin('/api/manage/users/before')).status).toBe(200);
    expect((await app.admin('/api/manage/users/during')).status).toBe(404);
    const again = await app.admin('/api/manage/users', {
      method: 'POST',
      json: { username: 'during', verifyType: 'password', password: 'a long enough password 2' },
    });
    expect(again.status, await again.clone().text()).toBe(201);
    const b = new BrokerBrowser(app);
    expect((await b.post('/api/auth/login', { username: 'during' })).status).toBe(200);
  }, 120_000);
});

describe('Key Vault down, hung and back', () => {
  let vault: Awaited<ReturnType<typeof keyVaultProxy>>;
  let app: TestApp;
  beforeAll(async () => {
    vault = await keyVaultProxy();
    // The production attempt timeout (the local stack's default is longer for busy machines).
    app = await startTestApp({
      env: {
        BROKER_KEY_VAULT_URI: vault.url,
        BROKER_DEPENDENCY_TIMEOUT_MS: String(DEPENDENCY_ATTEMPT_TIMEOUT_MS),
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await vault?.close();
  });

  const create = (title: string) =>
    app.admin('/api/manage/integrations', {
      method: 'POST',
      json: {
        kind: 'azure-ad',
        title,
        applicationId: DEMO_ENTRA.clientId,
        tenant: DEMO_ENTRA.tenantId,
        clientSecret: DEMO_ENTRA.clientSecret,
      },
    });

  it('a vault that refuses connections gives 503 (secrets) with the operation logged; nothing half-written', async () => {
    await vault.down();
    const logs = captureLogs();
    try {
      await expectApi503(await create('Vault down'), 'secrets');
      const f = logs.records.find((r) => r.event === 'request.failed') as Record<string, unknown>;
      expect(f.dependencyFailure).toMatchObject({ dependency: 'secrets', operation: 'setSecret' });
      expect(logs.lines.join('\n')).not.toContain(DEMO_ENTRA.clientSecret);
    } finally {
      logs.stop();
    }
    await vault.up();
    const list = await (await app.admin('/api/manage/integrations')).json();
    expect(JSON.stringify(list)).not.toContain('Vault down');
    expect((await create('Vault down')).status).toBe(201);
  });

  it('a vault that hangs is cut off at the attempt timeout: 503, then works again', async () => {
    vault.hang();
    const r = await timed(() => create('Vault hung'));
    await expectApi503(r.value, 'secrets');
    console.info(`vault hung: API 503 in ${r.ms} ms`);
    vault.pass();
    expect((await create('Vault hung')).status).toBe(201);
  });
});

describe('Entra down during the callback', () => {
  let idp: Awaited<ReturnType<typeof entraBehindProxy>>;
  let app: TestApp;
  let integration: { id: string };
  beforeAll(async () => {
    idp = await entraBehindProxy();
    app = await startTestApp({
      env: {
        BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: idp.url,
        BROKER_DEPENDENCY_TIMEOUT_MS: String(DEPENDENCY_ATTEMPT_TIMEOUT_MS),
      },
    });
    integration = await createDemoIntegration(app);
    await createUser(app, {
      username: 'eve',
      email: demoAccount('eve'),
      verifyType: { integrationId: integration.id },
    });
  });
  afterAll(async () => {
    await app?.close();
    await idp?.close();
  });

  it('answers a 503 page with Retry-After, and the next sign-in works once Entra is back', async () => {
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'eve' });
    expect(start.status).toBe(302);
    const callbackUrl = await b.entraLogin(start.headers.get('location') as string, 'eve');
    await idp.down();
    await expectPage503(await b.get(callbackUrl));
    expect((await b.session()).status).toBe(401);
    await idp.up();
    const again = new BrokerBrowser(app);
    const { callback } = await again.signInWithEntra('eve', 'eve');
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect((await again.session()).status).toBe(200);
  });

  it('an Entra that hangs during the code exchange gives the 503 page too (bounded), then works again', async () => {
    const b = new BrokerBrowser(app);
    const start = await b.post('/api/auth/login', { username: 'eve' });
    const callbackUrl = await b.entraLogin(start.headers.get('location') as string, 'eve');
    idp.hang();
    const r = await timed(() => b.get(callbackUrl));
    await expectPage503(r.value);
    console.info(`entra hung: page 503 in ${r.ms} ms`);
    idp.pass();
    const again = new BrokerBrowser(app);
    const { callback } = await again.signInWithEntra('eve', 'eve');
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect((await again.session()).status).toBe(200);
  });
});

describe('npm start keeps Azurite running', () => {
  it('restarts Azurite on the same port when it exits on its own', async () => {
    const location = mkdtempSync(path.join(tmpdir(), 'broker-azurite-sup-'));
    const port = await freePort();
    const messages: string[] = [];
    const azurite = await supervisedAzuriteTables({ port, location, log: (m) => messages.push(m) });
    try {
      const first = azurite.pid;
      expect(first).toBeTypeOf('number');
      process.kill(first as number, 'SIGKILL');
      await expect
        .poll(() => azurite.pid !== first && messages.includes('Azurite is back.'), {
          timeout: 30_000,
          interval: 200,
        })
        .toBe(true);
      await waitForPort(port);
    } finally {
      await azurite.close();
      rmSync(location, { recursive: true, force: true });
    }
  }, 120_000);
});
