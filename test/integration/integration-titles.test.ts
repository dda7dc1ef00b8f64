/**
 * Look-alike titles: refused when they hide characters, use unusual or repeated spaces or mix
 * scripts; unique (and the reserved word `password` unavoidable) after NFKC + case folding. Rows
 * keyed the old way (NFC + lower case) are still found and still block their title.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const create = (title: string) =>
  app.admin('/api/manage/integrations', {
    method: 'POST',
    json: {
      kind: 'azure-ad',
      title,
      tenant: randomUUID(),
      applicationId: randomUUID(),
      clientSecret: 'a client secret value',
    },
  });

describe('integration titles', () => {
  beforeAll(async () => {
    expect((await create('Demo App')).status).toBe(201);
  });

  it.each([
    ['non-breaking space', 'Demo\u00a0App', 400],
    ['double space', 'Demo  App', 400],
    ['zero-width space', 'Demo\u200bApp', 400],
    ['Cyrillic а', 'Demo \u0430pp', 400],
    ['full-width letters', 'Ｄｅｍｏ Ａｐｐ', 409],
    ['right-to-left override', 'Demo App\u202e', 400],
    ['other case', 'DEMO APP', 409],
  ])('a look-alike of "Demo App" (%s) is refused', async (_what, title, status) => {
    const r = await create(title);
    expect(r.status).toBe(status);
    const body = await r.json();
    if (status === 400) expect(JSON.stringify(body.errors)).toContain('title');
    else expect(body.code).toBe('duplicate_title');
  });

  it.each(['ＰＡＳＳＷＯＲＤ', 'Pass\u200bword', 'pass\u00a0word', 'p\u0430ssword', 'PASSWORD'])(
    'the reserved word cannot be dodged: %j',
    async (title) => {
      expect((await create(title)).status).toBe(400);
    },
  );

  it('renaming to a look-alike is refused the same way', async () => {
    const other = await create('Second App');
    expect(other.status).toBe(201);
    const { id } = await other.json();
    const r = await app.admin(`/api/manage/integrations/${id}`, {
      method: 'PATCH',
      json: { title: 'Ｄｅｍｏ app' },
    });
    expect(r.status).toBe(409);
  });
});
