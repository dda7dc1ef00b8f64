/**
 * Usernames round-trip through the route parameter: every character class the username pattern
 * allows can be created, read, changed and deleted through the HTTP host (URL-encoded), and names
 * that cannot (the dot segments `.` and `..`) are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const path = (u: string) => `/api/manage/users/${encodeURIComponent(u)}`;

describe('usernames through the route parameter', () => {
  it.each(['.', '..'])('refuses %j (a dot segment) with 400 naming the field', async (username) => {
    const r = await app.admin('/api/manage/users', {
      method: 'POST',
      json: { username, verifyType: 'password' },
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toContain('username');
  });

  // One name per character class of /^[a-z0-9._@-]{1,64}$/ (upper case is folded to lower), alone
  // and at the edges, plus names that look like but are not dot segments.
  const names = [
    'abc',
    'ABC-Upper',
    '0123456789',
    'a.b',
    '.a',
    'a.',
    '...',
    '.-.',
    'a_b',
    '_',
    'a@b',
    '@',
    'a-b',
    '-',
    'x'.repeat(64),
  ];
  it.each(names)('creates, reads, changes and deletes %j', async (raw) => {
    const username = raw.toLowerCase();
    const created = await app.admin('/api/manage/users', {
      method: 'POST',
      json: { username: raw, verifyType: 'password' },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    expect((await created.json()).username).toBe(username);
    const read = await app.admin(path(username));
    expect(read.status).toBe(200);
    expect((await read.json()).username).toBe(username);
    const changed = await app.admin(path(username), { method: 'PATCH', json: { displayName: 'Changed' } });
    expect(changed.status).toBe(200);
    expect((await changed.json()).displayName).toBe('Changed');
    expect((await app.admin(path(username), { method: 'DELETE' })).status).toBe(204);
    expect((await app.admin(path(username))).status).toBe(404);
  });
});
