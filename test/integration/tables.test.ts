import { describe, expect, it } from 'vitest';
import { isPreconditionFailed } from '../../shared/storage/tables.ts';
import { testServices } from '../helpers/stack.ts';

describe('Table Storage through the real TableClient against Azurite', () => {
  it('refuses an update with a stale etag (412)', async () => {
    const { tables } = await testServices();
    const t = tables.settings;
    await t.createEntity({ partitionKey: 'p', rowKey: 'r', v: 1 });
    const first = await t.getEntity('p', 'r');
    await t.updateEntity({ partitionKey: 'p', rowKey: 'r', v: 2 }, 'Replace', { etag: first.etag });
    let error: unknown;
    try {
      await t.updateEntity({ partitionKey: 'p', rowKey: 'r', v: 3 }, 'Replace', { etag: first.etag });
    } catch (err) {
      error = err;
    }
    expect(isPreconditionFailed(error)).toBe(true);
    expect((error as { statusCode: number }).statusCode).toBe(412);
    expect((await t.getEntity('p', 'r')).v).toBe(2);
  });
});
