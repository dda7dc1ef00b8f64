/**
 * UserBindings rows ((tid, oid) → username) spread over 16 partitions per tenant (`~<h>-<tid>`). Real
 * app, real Azurite, the Entra stand-in's real login form; requests counted with a pipeline policy on
 * the app's own clients, never timed.
 */
import { randomUUID } from 'node:crypto';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountObjectId, DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { BINDING_PREFIX, bindingPartition } from '../../shared/users/partitions.ts';
import { BrokerBrowser, createDemoIntegration, createUser, demoAccount } from '../helpers/signin.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

// biome-ignore lint/suspicious/noExplicitAny: rows are checked by assertions.
type Json = Record<string, any>;

const TID = DEMO_ENTRA.tenantId.toLowerCase();
const oidOf = (account: string) => accountObjectId(DEMO_ENTRA.tenantId, account);

async function rowOrUndefined(table: TableClient, pk: string, rk: string): Promise<Json | undefined> {
  try {
    return await table.getEntity<Json>(pk, rk);
  } catch {
    return undefined;
  }
}

async function rowsWhere(table: TableClient, filter: string): Promise<Json[]> {
  const out: Json[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter } })) out.push(e);
  return out;
}

/** Every binding row of identity (tid, oid), in any partition of its tenant. */
async function bindingRows(table: TableClient, tid: string, oid: string): Promise<Json[]> {
  return rowsWhere(table, `RowKey eq '${oid}'`).then((rows) =>
    rows.filter((r) => r.partitionKey.endsWith(tid)),
  );
}

/** Counts the requests the given clients send while `fn` runs ("<table> <METHOD> <path>"). */
async function countRequests(tables: TableClient[], fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const name = `count-bindings-${randomUUID()}`;
  for (const t of tables) {
    const policy: PipelinePolicy = {
      name,
      sendRequest: (req, next) => {
        seen.push(`${req.method} ${decodeURIComponent(new URL(req.url).pathname)}`);
        return next(req);
      },
    };
    t.pipeline.addPolicy(policy);
  }
  try {
    await fn();
  } finally {
    for (const t of tables) t.pipeline.removePolicy({ name });
  }
  return seen;
}

describe('bindingPartition', () => {
  it('16 partitions per tenant, deterministic', () => {
    const oid = randomUUID();
    expect(bindingPartition(TID, oid)).toBe(bindingPartition(TID.toUpperCase(), oid.toUpperCase()));
    expect(bindingPartition(TID, oid)).toMatch(new RegExp(`^~[0-9a-f]-${TID}$`));
    const used = new Set(Array.from({ length: 300 }, () => bindingPartition(TID, randomUUID())));
    expect(used.size).toBe(16);
    for (const pk of used) expect(pk >= BINDING_PREFIX).toBe(true);
  });
});

describe('sign-ins with bindings in the new partitions', () => {
  let app: TestApp;
  let integration: { id: string };
  beforeAll(async () => {
    app = await startTestApp();
    integration = await createDemoIntegration(app);
  });
  afterAll(() => app.close());

  const user = (username: string) =>
    createUser(app, {
      username,
      email: demoAccount(username),
      verifyType: { integrationId: integration.id },
    });

  it('a first sign-in (username first) writes its binding to ~<h>-<tid>, and IdP-first finds it there', async () => {
    await user('np-first');
    const b = new BrokerBrowser(app);
    expect((await b.signInWithEntra('np-first', 'np-first')).callback.status).toBe(302);
    const bindings = app.services.tables.userBindings;
    const oid = oidOf('np-first');
    expect((await rowOrUndefined(bindings, bindingPartition(TID, oid), oid))?.username).toBe('np-first');

    const idp = new BrokerBrowser(app);
    const start = await idp.get(`/api/auth/login/${integration.id}`);
    const cb = await idp.get(await idp.entraLogin(start.headers.get('location') as string, 'np-first'));
    expect(cb.status).toBe(302);
    expect(await (await idp.session()).json()).toMatchObject({ username: 'np-first' });
    // The lookup is one point read of UserBindings.
    const reads = await countRequests([bindings], () => app.services.users.findByBinding(TID, oid));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toContain(`UserBindings(PartitionKey='${bindingPartition(TID, oid)}',RowKey='${oid}')`);
  });

  it('an IdP-first first sign-in (matched by claim) binds in the new partition', async () => {
    await user('np-idp');
    const idp = new BrokerBrowser(app);
    const start = await idp.get(`/api/auth/login/${integration.id}`);
    const cb = await idp.get(await idp.entraLogin(start.headers.get('location') as string, 'np-idp'));
    expect(cb.status).toBe(302);
    expect(await (await idp.session()).json()).toMatchObject({ username: 'np-idp' });
    const oid = oidOf('np-idp');
    const rows = await bindingRows(app.services.tables.userBindings, TID, oid);
    expect(rows.map((r) => [r.partitionKey, r.username])).toEqual([[bindingPartition(TID, oid), 'np-idp']]);
  });
});
