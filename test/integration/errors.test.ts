/**
 * docs/security.md AD4: a storage failure in the middle of a request answers problem+json (503) with the
 * correlation id as `instance`, and neither a stack trace nor the SDK's own text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/standins/azurite.ts';
import { createAzureCredential } from '../../shared/secrets/client.ts';
import { createTables } from '../../shared/storage/tables.ts';
import { UserRows } from '../../shared/users/user-rows.ts';
import { captureLogs, startTestApp, type TestApp, testConfig } from '../helpers/stack.ts';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
  // Only the Users table goes dead (a closed port): admin authentication keeps working.
  const port = await freePort();
  const config = testConfig({ BROKER_TABLE_ENDPOINT: `http://127.0.0.1:${port}/devstoreaccount1` });
  const dead = createTables(config, createAzureCredential(config));
  Object.assign(app.services.users.store, { rows: new UserRows(dead.users) });
});
afterAll(() => app.close());

describe('errors', () => {
  it('AD4: a forced storage error gives a generic problem: no stack frames, no SDK text', async () => {
    const logs = captureLogs();
    let res: Response;
    try {
      res = await app.admin('/api/manage/users');
    } finally {
      logs.stop();
    }
    // A storage outage is a 503 with Retry-After, not an internal error.
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    const problem = JSON.parse(text);
    expect(problem).toMatchObject({ status: 503, code: 'dependency_unavailable', dependency: 'tables' });
    expect(problem.instance).toBe(`urn:broker:correlation:${problem.correlationId}`);
    expect(text).not.toMatch(/\bat .+:\d+:\d+/);
    expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|devstoreaccount1|RestError|connect/i);
    // The failure is logged for operators, with the same correlation id and without the SDK message.
    const logged = logs.records.find((r) => r.event === 'request.failed');
    expect(logged?.correlationId).toBe(problem.correlationId);
    // The cause is there as a code, operation and table — the SDK's message ("connect ECONNREFUSED
    // 127.0.0.1:…") is not.
    expect(logged?.dependencyFailure).toMatchObject({ errorCode: 'ECONNREFUSED', operation: 'listEntities' });
    expect(JSON.stringify(logged)).not.toMatch(/connect ECONNREFUSED|127\.0\.0\.1/);
  });

  it('unknown routes and wrong methods are problems too', async () => {
    const unknown = await fetch(`${app.url}/api/manage/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    const wrong = await fetch(`${app.url}/api/health`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
  });
});
