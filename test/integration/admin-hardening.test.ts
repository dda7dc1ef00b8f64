/**
 * Admin credentials that fail closed (docs/security.md AD1, RL1): the API tokens an admin made with
 * their session are revoked when the admin is demoted (a re-promotion never brings them back), and
 * wrong admin credentials are counted per presented token, or per address only when they name no
 * known token, so a valid token is never refused for others' failures (a NAT full of wrong guesses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_AUTH_FAILURES } from '../../shared/web/endpoint.ts';
import { BrokerBrowser, createUser } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

const PASSWORD = 'an admin passphrase nobody guesses';

describe('admin credentials', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
    // Another admin, so that demoting or disabling the ones below never leaves the broker without one.
    await createUser(app, {
      username: 'ah-keeper',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['admin'],
    });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  const withToken = (token: string, path = '/api/manage/users') =>
    fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('a demoted admin’s tokens are revoked: re-promotion does not bring them back', async () => {
    await createUser(app, {
      username: 'ah-admin',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['admin'],
    });
    const b = new BrokerBrowser(app);
    expect((await b.post('/api/auth/password', { username: 'ah-admin', password: PASSWORD })).status).toBe(
      303,
    );
    const made = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: {
        cookie: b.jar.header(),
        origin: b.origin,
        'x-broker-csrf': '1',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'ah-token' }),
    });
    expect(made.status, await made.clone().text()).toBe(201);
    const { token, id } = (await made.json()) as { token: string; id: string };
    expect((await withToken(token)).status).toBe(200);

    const demote = await app.admin('/api/manage/users/ah-admin', { method: 'PATCH', json: { roles: [] } });
    expect(demote.status).toBe(200);
    expect((await withToken(token)).status).toBe(401);
    const listed = (await (await app.admin('/api/manage/tokens')).json()) as
      | { items?: { id: string }[] }
      | { id: string }[];
    const ids = (Array.isArray(listed) ? listed : (listed.items ?? [])).map((t) => t.id);
    expect(ids).not.toContain(id);

    const promote = await app.admin('/api/manage/users/ah-admin', {
      method: 'PATCH',
      json: { roles: ['admin'] },
    });
    expect(promote.status).toBe(200);
    expect((await withToken(token)).status).toBe(401);
  });

  it('a disabled admin’s tokens are revoked too', async () => {
    await createUser(app, {
      username: 'ah-off',
      verifyType: 'password',
      password: PASSWORD,
      roles: ['admin'],
    });
    const b = new BrokerBrowser(app);
    expect((await b.post('/api/auth/password', { username: 'ah-off', password: PASSWORD })).status).toBe(303);
    const made = await fetch(`${app.url}/api/manage/tokens`, {
      method: 'POST',
      headers: {
        cookie: b.jar.header(),
        origin: b.origin,
        'x-broker-csrf': '1',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'ah-off-token' }),
    });
    const { token } = (await made.json()) as { token: string };
    expect((await withToken(token)).status).toBe(200);
    expect(
      (await app.admin('/api/manage/users/ah-off', { method: 'PATCH', json: { disabled: true } })).status,
    ).toBe(200);
    expect(
      (await app.admin('/api/manage/users/ah-off', { method: 'PATCH', json: { disabled: false } })).status,
    ).toBe(200);
    expect((await withToken(token)).status).toBe(401);
  });

  it('RL1: wrong credentials from one address never lock out a valid token from it (a NAT)', async () => {
    for (let i = 0; i <= ADMIN_AUTH_FAILURES.freeAttempts + 5; i++)
      await (await withToken('brk.bad.bad')).arrayBuffer();
    // The address's guesses are refused …
    const guess = await withToken('brk.bad.bad');
    expect(guess.status).toBe(429);
    expect(Number(guess.headers.get('retry-after'))).toBeGreaterThan(0);
    // … a valid token from the same address is not.
    expect((await withToken(app.token)).status).toBe(200);
  });

  it('RL1: wrong secrets for one existing token are counted against that token, not the address', async () => {
    const other = await app.services.adminTokens.create({ name: 'ah-target' }, 'test');
    const [, id] = other.token.split('.');
    const wrong = `brk.${id}.${'A'.repeat(43)}`;
    for (let i = 0; i <= ADMIN_AUTH_FAILURES.freeAttempts + 5; i++)
      await (await withToken(wrong)).arrayBuffer();
    expect((await withToken(wrong)).status).toBe(429);
    // Another token from the same address, and the right secret of the guessed one, still work.
    expect((await withToken(app.token)).status).toBe(200);
    expect((await withToken(other.token)).status).toBe(200);
  });
});
