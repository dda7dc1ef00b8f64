import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { manualClock } from '../../shared/core/clock.ts';
import { startTestApp, type TestApp, testEnv } from '../helpers/stack.ts';

describe('admin API tokens', () => {
  let app: TestApp;
  const clock = manualClock(Date.parse('2026-11-27T10:00:00Z'));

  // Unprefixed tables: bootstrap-admin writes to the configured storage's real table names.
  beforeAll(async () => {
    app = await startTestApp({ clock, prefix: '' });
  });
  afterAll(() => app.close());

  it('rejects a request without a token with a 401 problem', async () => {
    const r = await fetch(`${app.url}/api/manage/tokens`);
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await r.json()).code).toBe('missing_credentials');
  });

  it.each([
    ['malformed', 'Bearer abc'],
    ['wrong scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['unknown id', `Bearer brk.${'0'.repeat(32)}.${'A'.repeat(43)}`],
  ])('rejects a %s token with a 401 problem', async (_, authorization) => {
    const r = await fetch(`${app.url}/api/manage/tokens`, { headers: { authorization } });
    expect(r.status).toBe(401);
    expect((await r.json()).code).toBe('invalid_token');
  });

  it('rejects a token whose secret is wrong', async () => {
    const [, id] = app.token.split('.');
    const r = await fetch(`${app.url}/api/manage/tokens`, {
      headers: { authorization: `Bearer brk.${id}.${'B'.repeat(43)}` },
    });
    expect(r.status).toBe(401);
  });

  it('creates, lists and revokes tokens; the value is shown once and stored only as a hash', async () => {
    const created = await app.admin('/api/manage/tokens', {
      method: 'POST',
      json: { name: 'ci', expiresInDays: 7 },
    });
    expect(created.status).toBe(201);
    const body = await created.json();
    expect(body.token).toMatch(/^brk\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    expect(body.expiresAt).toBe('2026-12-04T10:00:00.000Z');

    const entity = await app.services.tables.adminTokens.getEntity('token', body.id);
    const secretPart = body.token.split('.')[2];
    expect(JSON.stringify(entity)).not.toContain(secretPart);
    expect(entity.hash).toMatch(/^[0-9a-f]{64}$/);

    const used = await fetch(`${app.url}/api/manage/tokens`, {
      headers: { authorization: `Bearer ${body.token}` },
    });
    expect(used.status).toBe(200);
    const listed = (await used.json()).items.find((t: { id: string }) => t.id === body.id);
    expect(listed).toMatchObject({ name: 'ci', lastUsedAt: '2026-11-27T10:00:00.000Z' });
    expect(JSON.stringify(listed)).not.toContain(secretPart);

    const revoked = await app.admin(`/api/manage/tokens/${body.id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    const after = await fetch(`${app.url}/api/manage/tokens`, {
      headers: { authorization: `Bearer ${body.token}` },
    });
    expect(after.status).toBe(401);
    expect((await app.admin(`/api/manage/tokens/${body.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('rejects an expired token', async () => {
    const created = await (
      await app.admin('/api/manage/tokens', { method: 'POST', json: { name: 'short', expiresInDays: 1 } })
    ).json();
    const ok = await fetch(`${app.url}/api/manage/tokens`, {
      headers: { authorization: `Bearer ${created.token}` },
    });
    expect(ok.status).toBe(200);
    clock.advance(86_400_000 + 1);
    const r = await fetch(`${app.url}/api/manage/tokens`, {
      headers: { authorization: `Bearer ${created.token}` },
    });
    expect(r.status).toBe(401);
    clock.advance(-(86_400_000 + 1));
  });

  it('validates the create body strictly', async () => {
    const cases: [unknown, string][] = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'ok', expiresInDays: 0 }, 'expiresInDays'],
      [{ name: 'ok', expiresInDays: 731 }, 'expiresInDays'],
      [{ name: 'ok', admin: true }, 'admin'],
    ];
    for (const [json, field] of cases) {
      const r = await app.admin('/api/manage/tokens', { method: 'POST', json });
      expect(r.status).toBe(400);
      const problem = await r.json();
      expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const wrongType = await app.admin('/api/manage/tokens', {
      method: 'POST',
      body: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(wrongType.status).toBe(415);
    const badJson = await app.admin('/api/manage/tokens', {
      method: 'POST',
      body: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.status).toBe(400);
    expect((await badJson.json()).code).toBe('invalid_json');
  });

  it('records an audit event without the token value', async () => {
    const created = await (
      await app.admin('/api/manage/tokens', { method: 'POST', json: { name: 'audited' } })
    ).json();
    const events = [];
    for await (const e of app.services.tables.auditEvents.listEntities()) events.push(e);
    const text = JSON.stringify(events);
    expect(text).toContain(`token:${created.id}`);
    expect(text).toContain('"actor":"test-admin"');
    expect(text).not.toContain(created.token.split('.')[2]);
  });

  it('bootstrap-admin prints a token the API accepts on its last line', async () => {
    const env = { ...process.env, ...testEnv() };
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
          'scripts/bootstrap-admin.ts',
          '--name',
          'boot',
        ],
        { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        err += d;
      });
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
    });
    const token = output.trim().split('\n').at(-1) as string;
    expect(token).toMatch(/^brk\./);
    const r = await fetch(`${app.url}/api/manage/tokens`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect((await r.json()).items.map((t: { name: string }) => t.name)).toContain('boot');
  });
});
