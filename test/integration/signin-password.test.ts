/**
 * Password sign-in through the real app: docs/security.md section E (PW1–PW7) and the return URL checks on
 * the post-login redirect (RU2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_POLICY, counterKey, Throttle } from '../../shared/limits/throttle.ts';
import { hashPassword } from '../../shared/passwords/index.ts';
import { createServices } from '../../shared/web/services.ts';
import { BrokerBrowser, createDemoIntegration, createUser, patchSettings } from '../helpers/signin.ts';
import { captureLogs, startTestApp, type TestApp } from '../helpers/stack.ts';

const PASSWORD = 'correct horse battery staple';
let app: TestApp;
let integrationId: string;

beforeAll(async () => {
  app = await startTestApp();
  integrationId = (await createDemoIntegration(app)).id;
  await createUser(app, { username: 'pw-user', verifyType: 'password', password: PASSWORD });
  await createUser(app, { username: 'both', verifyType: { integrationId }, password: PASSWORD });
});
afterAll(() => app.close());

const browser = () => new BrokerBrowser(app);

describe('password sign-in', () => {
  it('signs a password user in: 303 to the default page with a session cookie', async () => {
    const b = browser();
    const step = await b.post('/api/auth/login', { username: 'PW-User' });
    expect(step.status).toBe(200);
    const html = await step.text();
    expect(html).toContain('name="password"');
    expect(html).toContain('autocomplete="current-password"');
    const res = await b.post('/api/auth/password', { username: 'pw-user', password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/api/auth/login');
    expect(await (await b.session()).json()).toMatchObject({ username: 'pw-user', method: 'password' });
  });

  it('PW4: one answer for unknown user, wrong password and "not allowed"', async () => {
    const bodies: string[] = [];
    for (const [username, password] of [
      ['nobody', PASSWORD],
      ['pw-user', 'wrong password here'],
      ['both', PASSWORD], // integration user; Allow OAuth Passwords is off
    ] as const) {
      const res = await browser().post('/api/auth/password', { username, password });
      expect(res.status).toBe(401);
      // Identical but for the username the visitor typed (and the per-response CSP nonce).
      bodies.push((await res.text()).replaceAll(username, 'USERNAME').replace(/nonce="[^"]+"/g, 'nonce=""'));
    }
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toContain('The username or password is not right.');
  });

  it('PW4: unknown users cost about as much time as known ones (dummy hash)', async () => {
    const time = async (username: string) => {
      const t = performance.now();
      await browser().post('/api/auth/password', { username, password: 'not the password' });
      return performance.now() - t;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 6; i++) {
      known.push(await time('pw-user'));
      unknown.push(await time(`ghost-${i}`));
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
    // Both include one argon2id verification (~15+ ms); without the dummy hash unknown users answer far faster.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
  });

  it('PW1/PW2: Allow OAuth Passwords lets integration users with a password choose; off refuses at once', async () => {
    const b = browser();
    const off = await b.post('/api/auth/login', { username: 'both' });
    expect(off.status).toBe(302); // straight to Entra
    await patchSettings(app, { allowOAuthPasswords: true });
    // Same instance: its settings cache is updated by the change itself (other instances: ≤ 5 s).
    const choice = await b.post('/api/auth/login', { username: 'both' });
    expect(choice.status).toBe(200);
    const html = await choice.text();
    expect(html).toContain('name="method" value="entra"');
    expect(html).toContain('name="method" value="password"');
    const pw = await b.post('/api/auth/login', { username: 'both', method: 'password' });
    expect(await pw.text()).toContain('name="password"');
    const ok = await b.post('/api/auth/password', { username: 'both', password: PASSWORD });
    expect(ok.status).toBe(303);

    await patchSettings(app, { allowOAuthPasswords: false });
    const refused = await browser().post('/api/auth/password', { username: 'both', password: PASSWORD });
    expect(refused.status).toBe(401);
    const events = [];
    for await (const e of app.services.tables.auditEvents.listEntities()) events.push(e);
    const toggles = events.filter((e) => String(e.changedFields).includes('allowOAuthPasswords'));
    expect(toggles.some((e) => e.securityRelevant === true)).toBe(true);
  }, 30_000);

  it('PW3: stored as argon2id m=19456,t=2,p=1; a weaker stored hash is upgraded on sign-in', async () => {
    await createUser(app, { username: 'legacy', verifyType: 'password', password: PASSWORD });
    const { hash } = await import('@node-rs/argon2');
    const weak = await hash(PASSWORD, { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    const rec = await app.services.users.getByUsername('legacy');
    await app.services.users.setPasswordHash('legacy', weak, rec?.etag);
    expect((await app.services.users.getByUsername('legacy'))?.passwordHash).toMatch(
      /^\$argon2id\$v=19\$m=4096,t=1,p=1\$/,
    );
    const res = await browser().post('/api/auth/password', { username: 'legacy', password: PASSWORD });
    expect(res.status).toBe(303);
    expect((await app.services.users.getByUsername('legacy'))?.passwordHash).toMatch(
      /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/,
    );
    expect(await hashPassword('x')).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('PW5: failures throttle the account (429 + Retry-After) without affecting other accounts', async () => {
    await createUser(app, { username: 'target', verifyType: 'password', password: PASSWORD });
    await createUser(app, { username: 'bystander', verifyType: 'password', password: PASSWORD });
    const b = browser();
    const statuses: number[] = [];
    for (let i = 0; i < ACCOUNT_POLICY.freeAttempts + 1; i++) {
      statuses.push(
        (await b.post('/api/auth/password', { username: 'target', password: `guess ${i}` })).status,
      );
    }
    expect(statuses.slice(0, ACCOUNT_POLICY.freeAttempts)).toEqual(
      Array(ACCOUNT_POLICY.freeAttempts).fill(401),
    );
    const blocked = await b.post('/api/auth/password', { username: 'target', password: PASSWORD });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even the right password is refused while blocked; other accounts are fine.
    const other = await browser().post('/api/auth/password', { username: 'bystander', password: PASSWORD });
    expect(other.status).toBe(303);
  });

  it('PW5: two instances share the counter (Table Storage)', async () => {
    // A second, independent services instance over the same tables = another Functions instance.
    const second = createServices(app.services.config, {
      tables: app.services.tables,
      secrets: app.services.secrets,
    });
    const t1 = new Throttle(app.services.tables.throttle, app.services.clock);
    const t2 = (second.signIn as unknown as { d: { throttle: Throttle } }).d.throttle;
    expect(t2).not.toBe(t1);
    for (let i = 0; i < ACCOUNT_POLICY.freeAttempts; i++) {
      await (i % 2 === 0 ? t1 : t2).recordFailure('pwd-user', 'shared-user', ACCOUNT_POLICY);
    }
    expect((await t2.state('pwd-user', 'shared-user')).blocked).toBe(false);
    await t1.recordFailure('pwd-user', 'shared-user', ACCOUNT_POLICY);
    expect((await t2.state('pwd-user', 'shared-user')).blocked).toBe(true);
    // Concurrent failures from both instances are all counted (optimistic concurrency).
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? t1 : t2).recordFailure('pwd-user', 'race', ACCOUNT_POLICY),
      ),
    );
    const row = await app.services.tables.throttle.getEntity(counterKey('pwd-user', 'race'), 'f');
    expect(row.count).toBe(10);
  });

  it('PW7: cross-origin form posts are refused (login CSRF)', async () => {
    for (const headers of [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: '', 'sec-fetch-site': 'cross-site' } as Record<string, string>,
    ]) {
      const h = { ...headers };
      if (h.origin === '') delete (h as Record<string, string>).origin;
      const res = await fetch(`${app.url}/api/auth/password`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...h },
        body: new URLSearchParams({ username: 'pw-user', password: PASSWORD }),
      });
      expect(res.status).toBe(403);
      expect(res.headers.getSetCookie().join()).not.toContain('__Host-broker_session');
    }
    const noHeaders = await fetch(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=pw-user',
    });
    expect(noHeaders.status).toBe(403);
    expect((await fetch(`${app.url}/api/auth/password`)).status).toBe(405);
    // What Chromium sends for a same-origin form post from a no-referrer page: accepted.
    await createUser(app, { username: 'csrf-user', verifyType: 'password', password: PASSWORD });
    const sameOrigin = await fetch(`${app.url}/api/auth/password`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'null',
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({ username: 'csrf-user', password: PASSWORD }),
    });
    expect(sameOrigin.status).toBe(303);
  });

  it('RU2: the post-login redirect honours the allow-list only', async () => {
    await createUser(app, { username: 'ru-user', verifyType: 'password', password: PASSWORD });
    await patchSettings(app, { allowedReturnOrigins: ['https://app.example'] });
    const cases: [string, string][] = [
      ['/welcome?x=1', '/welcome?x=1'],
      ['https://app.example/home', 'https://app.example/home'],
      ['https://evil.example/', '/api/auth/login'],
      ['//evil.example', '/api/auth/login'],
      ['javascript:alert(1)', '/api/auth/login'],
    ];
    for (const [returnTo, expected] of cases) {
      const res = await browser().post('/api/auth/password', {
        username: 'ru-user',
        password: PASSWORD,
        returnTo,
      });
      expect(res.status, returnTo).toBe(303);
      expect(res.headers.get('location'), returnTo).toBe(expected);
    }
  }, 20_000);

  it('AU2: a username with a newline gives one log record; no password in logs', async () => {
    const logs = captureLogs();
    try {
      await browser().post('/api/auth/password', {
        username: 'evil\n{"event":"forged"}',
        password: 'canary-pw-123456',
      });
    } finally {
      logs.stop();
    }
    const text = logs.lines.join('\n');
    expect(text).not.toContain('canary-pw-123456');
    expect(logs.lines.every((l) => l.split('\n').length === 1)).toBe(true);
    expect(logs.records.some((r) => r.event === 'forged')).toBe(false);
    const failed = logs.records.find(
      (r) => r.event === 'audit' && (r.audit as { type: string }).type === 'signin.failed',
    );
    expect((failed?.audit as { reason?: string } | undefined)?.reason).toBe('unknown_user');
  });
});

describe('password throttling under a burst', () => {
  it.each([1, 2, 3])(
    'PW5 (run %i): 40 parallel guesses get at most freeAttempts + 1 password checks; the rest are 429',
    async () => {
      const own = await startTestApp();
      try {
        await createUser(own, { username: 'burst', verifyType: 'password', password: PASSWORD });
        const b = new BrokerBrowser(own);
        const statuses = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            b
              .post('/api/auth/password', { username: 'burst', password: `guess number ${i}` })
              .then((r) => r.status),
          ),
        );
        const checked = statuses.filter((s) => s === 401).length;
        const seen = JSON.stringify(statuses);
        expect(checked, seen).toBeLessThanOrEqual(ACCOUNT_POLICY.freeAttempts + 1);
        expect(statuses.filter((s) => s === 429).length, seen).toBe(40 - checked);
        // Even the right password is refused while the block runs.
        expect((await b.post('/api/auth/password', { username: 'burst', password: PASSWORD })).status).toBe(
          429,
        );
      } finally {
        await own.close();
      }
    },
    60_000,
  );
});
