/**
 * RL1/RL2 for sign-in callbacks: the per-address callback limit holds under a parallel burst (slot
 * rows taken with conditional inserts), and login starts store nothing (the transaction is sealed in
 * its cookie), so a burst of starts cannot grow storage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlotLimiter } from '../../shared/limits/slots.ts';
import { CALLBACK_LIMIT } from '../../shared/signin/entra-callback.ts';
import {
  LOGIN_COOKIE_PREFIX,
  type LoginTransactionStore,
  loginCookieName,
  MAX_PENDING_PER_BROWSER,
} from '../../shared/signin/transactions.ts';
import { BrokerBrowser, createDemoIntegration, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
// A running clock that starts a minute into a limit window, so no burst here straddles two windows.
const t0 = Date.now();
const windowStart = Math.ceil(t0 / CALLBACK_LIMIT.windowMs) * CALLBACK_LIMIT.windowMs;
const clock = { now: () => windowStart + 60_000 + (Date.now() - t0) };
beforeAll(async () => {
  app = await startTestApp({ clock });
});
afterAll(async () => {
  await app.close();
});

async function countRows(table: import('@azure/data-tables').TableClient): Promise<number> {
  let n = 0;
  for await (const _ of table.listEntities()) n++;
  return n;
}

describe('callback limit under a burst', () => {
  it('200 parallel takes of one address get exactly the limit through, other addresses unaffected', async () => {
    const slots = new SlotLimiter(app.services.tables.throttle, clock);
    const policy = { limit: 25, windowMs: 10 * 60_000 };
    const results = await Promise.all(
      Array.from({ length: 200 }, () => slots.take('burst', '198.51.100.7', policy)),
    );
    const passed = results.filter((r) => !r.blocked).length;
    expect(passed).toBeLessThanOrEqual(policy.limit);
    // Fails closed near the limit under contention, but most slots are used.
    expect(passed).toBeGreaterThanOrEqual(policy.limit - 5);
    for (const r of results.filter((x) => x.blocked)) expect(r.retryAfterSeconds).toBeGreaterThan(0);
    expect((await slots.take('burst', '198.51.100.8', policy)).blocked).toBe(false);
  }, 120_000);

  it('one instance’s sequential takes cost one insert each: it never tries a slot it knows is taken', async () => {
    const table = app.services.tables.throttle;
    const slots = new SlotLimiter(table, clock);
    const policy = { limit: 30, windowMs: 10 * 60_000 };
    const sent: string[] = [];
    const policyName = 'count-slot-requests';
    table.pipeline.addPolicy({
      name: policyName,
      sendRequest: (req, next) => {
        sent.push(req.method);
        return next(req);
      },
    });
    try {
      for (let i = 0; i < policy.limit; i++) {
        expect((await slots.take('sequential', '198.51.100.9', policy)).blocked).toBe(false);
      }
      // Every slot was found free at the first try: 30 inserts, no conflict, no listing of the window.
      expect(sent).toEqual(Array.from({ length: policy.limit }, () => 'POST'));
      expect((await slots.take('sequential', '198.51.100.9', policy)).blocked).toBe(true);
    } finally {
      table.pipeline.removePolicy({ name: policyName });
    }
  });

  it('200 parallel callbacks with valid transactions from one address: at most the limit reach Entra', async () => {
    const integration = await createDemoIntegration(app);
    await createUser(app, { username: 'burst', verifyType: { integrationId: integration.id } });
    const rowsBefore = await countRows(app.services.tables.loginTransactions);
    // 200 sign-ins in progress in 200 browsers: each a sealed transaction cookie (as a start makes it,
    // without spending this address's start limit), nothing stored.
    const store = (app.services.signIn as unknown as { d: { transactions: LoginTransactionStore } }).d
      .transactions;
    const starts: { b: BrokerBrowser; state: string }[] = [];
    for (let i = 0; i < 200; i++) {
      const b = new BrokerBrowser(app);
      const tx = await store.create({
        integrationId: integration.id,
        expectedUsername: 'burst',
        returnTo: null,
      });
      b.jar.cookies.set(tx.cookie.name, tx.cookie.value);
      starts.push({ b, state: tx.state });
    }
    expect(await countRows(app.services.tables.loginTransactions)).toBe(rowsBefore);
    const address = { 'x-forwarded-for': '203.0.113.50' };
    const statuses = await Promise.all(
      starts.map(async ({ b, state }) => {
        const res = await b.get(`/api/auth/callback?code=not-a-real-code&state=${state}`, address);
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const limited = statuses.filter((s) => s === 429).length;
    const passed = statuses.length - limited;
    // Each passed callback redeemed its (bogus) code at Entra and got an error page (400).
    expect(passed).toBeLessThanOrEqual(CALLBACK_LIMIT.limit);
    expect(passed).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 429).every((s) => s === 400)).toBe(true);
    console.log(`callback burst: ${passed} of 200 passed the limit of ${CALLBACK_LIMIT.limit}`);
  }, 180_000);

  it('a browser keeps at most a few sign-ins in progress: older transaction cookies are expired', async () => {
    const integration = await createDemoIntegration(app);
    await createUser(app, { username: 'tabs', verifyType: { integrationId: integration.id } });
    const b = new BrokerBrowser(app);
    const states: string[] = [];
    for (let i = 0; i < 8; i++) {
      const start = await b.post('/api/auth/login', { username: 'tabs' });
      states.push(new URL(start.headers.get('location') as string).searchParams.get('state') as string);
      await new Promise((r) => setTimeout(r, 5));
    }
    const pending = [...b.jar.cookies.keys()].filter((n) => n.startsWith(LOGIN_COOKIE_PREFIX));
    expect(pending.length).toBe(MAX_PENDING_PER_BROWSER + 1);
    // The newest ones are kept (the last started sign-in can always complete).
    expect(pending).toContain(loginCookieName(states.at(-1) as string));
    expect(pending).not.toContain(loginCookieName(states[0] as string));
  });
});
