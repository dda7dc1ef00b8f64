/**
 * RL2: every limit holds under a parallel burst of 200 requests from one client address (through the
 * local host; the address comes from X-Forwarded-For), and only presented-but-wrong credentials count
 * as failed admin sign-ins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDRESS_POLICY, Throttle } from '../../shared/limits/throttle.ts';
import { START_LIMIT } from '../../shared/signin/entra-start.ts';
import { BrokerBrowser, createDemoIntegration, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';
import { countingPasswords } from '../helpers/users.ts';

const BURST = 200;
const PASSWORD = 'correct horse battery staple';

async function countRows(app: TestApp, table: 'loginTransactions'): Promise<number> {
  let n = 0;
  for await (const _ of app.services.tables[table].listEntities()) n++;
  return n;
}

// The local host appends the socket's address (127.0.0.1) to X-Forwarded-For, as Azure's front end
// does: every request of this file comes from that one client address.

describe('RL2: per-address password limit under a burst', () => {
  let app: TestApp;
  const passwords = countingPasswords();
  beforeAll(async () => {
    app = await startTestApp({ passwords });
    await createUser(app, { username: 'nat-user', verifyType: 'password', password: PASSWORD });
  });
  afterAll(() => app.close());

  it('successful sign-ins give their address ticket back (a shared NAT address is not used up)', async () => {
    const b = new BrokerBrowser(app);
    for (let i = 0; i < ADDRESS_POLICY.freeAttempts + 5; i++) {
      const res = await b.post('/api/auth/password', { username: 'nat-user', password: PASSWORD });
      expect(res.status, String(i)).toBe(303);
    }
  }, 120_000);

  it(`${BURST} parallel wrong passwords for ${BURST} usernames: at most freeAttempts + 1 are checked`, async () => {
    const b = new BrokerBrowser(app);
    passwords.checks = 0;
    const responses = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        b.post('/api/auth/password', { username: `spray-${i}`, password: `guess ${i}` }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    const through = statuses.filter((s) => s === 401).length;
    console.info(
      `password spray: ${through} of ${BURST} reached a password check (${passwords.checks} checks)`,
    );
    expect(passwords.checks).toBe(through);
    expect(through).toBeLessThanOrEqual(ADDRESS_POLICY.freeAttempts + 1);
    expect(statuses.filter((s) => s === 429).length).toBe(BURST - through);
    for (const r of responses.filter((x) => x.status === 429)) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe('RL2: start and callback limits under a burst', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
    const { id } = await createDemoIntegration(app);
    await createUser(app, { username: 'entra-user', verifyType: { integrationId: id } });
  });
  afterAll(() => app.close());

  // Login starts store nothing since the transaction is sealed in its cookie (performance issue); the
  // per-address start limit still holds (slot rows): a burst gets at most START_LIMIT redirects to Entra.
  it(`${BURST} parallel POST /api/auth/login: at most START_LIMIT sent to Entra, no transaction written`, async () => {
    const before = await countRows(app, 'loginTransactions');
    const statuses = await Promise.all(
      Array.from({ length: BURST }, () =>
        new BrokerBrowser(app).post('/api/auth/login', { username: 'entra-user' }).then((r) => r.status),
      ),
    );
    const written = (await countRows(app, 'loginTransactions')) - before;
    const through = statuses.filter((s) => s === 302).length;
    console.info(`login start burst: ${through} of ${BURST} redirected to Entra, ${written} rows written`);
    expect(written).toBe(0);
    expect(through).toBeLessThanOrEqual(START_LIMIT.limit);
    expect(through).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 429).length).toBe(BURST - through);
  }, 120_000);

  // A callback without this browser's sealed transaction is refused before any storage or Entra call;
  // callbacks with valid transactions are limited by slot rows (test/integration/callback-limit.test.ts).
  it(`${BURST} parallel callbacks with forged states: all refused, nothing written`, async () => {
    const before = await countRows(app, 'loginTransactions');
    const statuses = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        new BrokerBrowser(app)
          .get(`/api/auth/callback?state=${String(i).padStart(43, 'A')}&code=c`)
          .then((r) => r.status),
      ),
    );
    expect(statuses.every((s) => s === 400)).toBe(true);
    expect((await countRows(app, 'loginTransactions')) - before).toBe(0);
  }, 120_000);
});

describe('RL2: the rate limit itself (admin rate uses it) never fails open', () => {
  it(`${BURST} parallel hits on one key with a limit of 40: exactly at most 40 allowed`, async () => {
    const app = await startTestApp();
    try {
      const t = new Throttle(app.services.tables.throttle, app.services.clock);
      const results = await Promise.all(
        Array.from({ length: BURST }, () =>
          t.hit('admin-rate', 'token:x', { limit: 40, windowMs: 60 * 60_000 }),
        ),
      );
      const allowed = results.filter((r) => !r.blocked).length;
      console.info(`rate limit burst (limit 40): ${allowed} of ${BURST} allowed`);
      expect(allowed).toBeLessThanOrEqual(40);
      expect(results.filter((r) => r.blocked).every((r) => r.retryAfterSeconds > 0)).toBe(true);
    } finally {
      await app.close();
    }
  }, 120_000);
});

describe('RL2: anonymous management calls are not failed admin sign-ins', () => {
  it(`${BURST} anonymous calls, then a valid token from the same address → 200`, async () => {
    const app = await startTestApp();
    try {
      const statuses = await Promise.all(
        Array.from({ length: BURST }, () => fetch(`${app.url}/api/manage/users`, {}).then((r) => r.status)),
      );
      expect(new Set(statuses)).toEqual(new Set([401]));
      const res = await app.admin('/api/manage/users', {});
      expect(res.status).toBe(200);
      // Presented-but-wrong tokens still count: the address is blocked after the free attempts.
      for (let i = 0; i < 51; i++) {
        await fetch(`${app.url}/api/manage/users`, {
          headers: { authorization: 'Bearer wrong-token' },
        });
      }
      const blocked = await fetch(`${app.url}/api/manage/users`, {
        headers: { authorization: 'Bearer wrong-token' },
      });
      expect(blocked.status).toBe(429);
      // A valid token from the same address is never refused for others' failures.
      expect((await app.admin('/api/manage/users')).status).toBe(200);
    } finally {
      await app.close();
    }
  }, 120_000);
});
