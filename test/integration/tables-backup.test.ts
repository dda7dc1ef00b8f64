/**
 * `npm run tables:export` / `tables:import` (scripts/tables-backup.ts) against the suite's Azurite:
 * every broker table seeded with rows the app writes and with every Edm type, exported, the tables
 * deleted, imported again: each row comes back with the same properties and the same types.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TableClient, TableEntity } from '@azure/data-tables';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BackupRow,
  doublesInResponse,
  exportTables,
  importTables,
  tableClients,
  toBackupRow,
} from '../../scripts/tables-backup.ts';
import { TABLE_NAMES } from '../../shared/storage/tables.ts';
import { stack, testServices, uniquePrefix } from '../helpers/stack.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A row with every Edm type the Table service has, in the forms the SDK writes them. */
function allTypes(table: string): TableEntity {
  return {
    partitionKey: `p-${table}`,
    rowKey: 'all-types',
    text: 'ünïcödé "quoted" \n line',
    empty: '',
    yes: true,
    no: false,
    int32: 42,
    negative: -7,
    double: 3.25,
    epochMs: 1_764_000_000_123, // a plain number outside Int32: stored as Double
    wholeDouble: { value: '2', type: 'Double' },
    int64: BigInt('9007199254740993'), // above 2^53: must not pass through a JS number
    smallInt64: { value: '5', type: 'Int64' },
    dateTime: { value: '2026-11-02T10:20:30.1234567Z', type: 'DateTime' }, // 7 fractional digits
    date: new Date('2026-01-01T00:00:00.000Z'),
    guid: { value: '0d2c6a1e-5b4f-4e3a-9c8d-7f6e5d4c3b2a', type: 'Guid' },
    binary: new Uint8Array([0, 1, 2, 127, 128, 255]),
    json: JSON.stringify({ roles: ['admin'], nested: { a: 1 } }),
  };
}

/** Every row of a table as a backup line (typed values, no etag or timestamp), keyed by its keys. */
async function snapshot(client: TableClient): Promise<Map<string, BackupRow>> {
  const rows = new Map<string, BackupRow>();
  for await (const e of client.listEntities({ disableTypeConversion: true })) {
    const row = toBackupRow(e as Record<string, unknown>);
    rows.set(`${row.partitionKey}\u0000${row.rowKey}`, row);
  }
  return rows;
}

async function seed(clients: Record<string, TableClient>, prefix: string): Promise<void> {
  // Rows as the app writes them (through its own services, on the same prefixed tables).
  const services = await testServices({ prefix });
  await services.adminTokens.create({ name: 'backup-test', expiresInDays: 30 }, 'test');
  await services.users.create(
    { username: 'backup.user', verifyType: 'password', password: 'correct horse battery staple 42' },
    { actor: 'test' },
  );
  for (let i = 0; i < 3; i++)
    await services.audit.record({ type: 'test.event', actor: 'test', details: { i } });
  // Every Edm type in every table, and enough rows in one table for several pages (1000 per page).
  for (const [name, client] of Object.entries(clients)) await client.createEntity(allTypes(name));
  const audit = clients[TABLE_NAMES.auditEvents]!;
  for (let batch = 0; batch < 11; batch++) {
    await audit.submitTransaction(
      Array.from({ length: 100 }, (_, i) => [
        'create',
        {
          partitionKey: `bulk-${batch % 3}`,
          rowKey: `r${String(batch * 100 + i).padStart(5, '0')}`,
          n: batch * 100 + i,
          big: BigInt(batch * 100 + i) * 1_000_000_000_000n,
        },
      ]),
    );
  }
}

describe('scripts/tables-backup.ts on Azurite', () => {
  it('export, delete every table, import: every row of every table comes back with its types', {
    timeout: 180_000,
  }, async () => {
    const prefix = uniquePrefix();
    const clients = tableClients(stack().tableEndpoint, { devCredentials: true, prefix });
    expect(Object.keys(clients).sort()).toEqual(Object.values(TABLE_NAMES).sort());
    await seed(clients, prefix);

    const before = new Map<string, Map<string, BackupRow>>();
    for (const [name, client] of Object.entries(clients)) before.set(name, await snapshot(client));
    for (const [name, rows] of before) expect(rows.size, name).toBeGreaterThan(0);
    expect(before.get(TABLE_NAMES.auditEvents)!.size).toBeGreaterThan(1100);

    const dir = mkdtempSync(path.join(tmpdir(), 'tables-backup-'));
    dirs.push(dir);
    const manifest = await exportTables(clients, dir, stack().tableEndpoint);
    for (const [name, rows] of before) expect(manifest.tables[name]!.rows, name).toBe(rows.size);

    // Wipe: the tables themselves are gone.
    for (const client of Object.values(clients)) await client.deleteTable();
    for (const client of Object.values(clients)) {
      await expect(client.getEntity('x', 'y')).rejects.toMatchObject({ statusCode: 404 });
    }

    const imported = await importTables(clients, dir);
    for (const [name, rows] of before) expect(imported[name], name).toBe(rows.size);

    for (const [name, client] of Object.entries(clients)) {
      const after = await snapshot(client);
      expect([...after.keys()].sort(), name).toEqual([...before.get(name)!.keys()].sort());
      for (const [key, row] of before.get(name)!) expect(after.get(key), `${name} ${key}`).toEqual(row);
    }

    // The types, read back with the SDK's own conversion.
    const users = clients[TABLE_NAMES.users]!;
    const typed = await users.getEntity(`p-${TABLE_NAMES.users}`, 'all-types');
    expect(typed.int64).toBe(BigInt('9007199254740993'));
    expect([...(typed.binary as Uint8Array)]).toEqual([0, 1, 2, 127, 128, 255]);
    expect(typed.date).toEqual(new Date('2026-01-01T00:00:00.000Z'));
    expect(typed.yes).toBe(true);
    expect(typed.int32).toBe(42);
    expect(typed.double).toBe(3.25);
    const raw = await users.getEntity(`p-${TABLE_NAMES.users}`, 'all-types', { disableTypeConversion: true });
    expect(raw.dateTime).toEqual({ type: 'DateTime', value: '2026-11-02T10:20:30.1234567Z' });
    expect(raw.wholeDouble).toMatchObject({ type: 'Double' });
    expect(raw.epochMs).toMatchObject({ type: 'Double' });
    expect(raw.guid).toEqual({ type: 'Guid', value: '0d2c6a1e-5b4f-4e3a-9c8d-7f6e5d4c3b2a' });

    // The restored data works for the app: the admin token and the user are found again.
    const services = await testServices({ prefix });
    expect((await services.adminTokens.list()).map((t) => t.name)).toContain('backup-test');
    expect((await services.users.getByUsername('backup.user'))?.username).toBe('backup.user');
  });

  it('refuses a backup whose file does not hold the rows its manifest counts, before writing anything', async () => {
    const prefix = uniquePrefix();
    const clients = tableClients(stack().tableEndpoint, {
      devCredentials: true,
      prefix,
      only: [TABLE_NAMES.settings, TABLE_NAMES.users],
    });
    for (const [name, client] of Object.entries(clients)) {
      await client.createTable();
      await client.createEntity(allTypes(name));
      await client.createEntity({ ...allTypes(name), rowKey: 'second' });
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'tables-backup-'));
    dirs.push(dir);
    await exportTables(clients, dir, 'test');
    const usersFile = path.join(dir, `${TABLE_NAMES.users}.jsonl`);
    writeFileSync(usersFile, readFileSync(usersFile, 'utf8').split('\n')[0]!);
    for (const client of Object.values(clients)) await client.deleteTable();
    await expect(importTables(clients, dir)).rejects.toThrow(/1 rows, the manifest says 2/);
    // Nothing was imported: the first table was not even created.
    await expect(clients[TABLE_NAMES.settings]!.getEntity('x', 'y')).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('tells Doubles written as 2.0 from Int32s, also next to strings that look like JSON', () => {
    const list = JSON.stringify({
      'odata.metadata': 'x',
      value: [
        { PartitionKey: 'p', RowKey: 'a', d: 1, s: '{"d":1.0, "e": 2e3}', n: -3 },
        { PartitionKey: 'p', RowKey: 'b', 'odd "name"': 0, t: 'x\\' },
      ],
    })
      .replace('"d":1,', '"d":1.0,')
      .replace('"n":-3', '"n":-3E2')
      .replace('"odd \\"name\\"":0', '"odd \\"name\\"":0.0');
    const { entities } = doublesInResponse(list);
    expect(entities.map((e) => [...e].sort())).toEqual([['d', 'n'], ['odd "name"']]);
    expect([...doublesInResponse('{"PartitionKey":"p","RowKey":"r","x":2.0,"y":2}').root]).toEqual(['x']);
  });
});
