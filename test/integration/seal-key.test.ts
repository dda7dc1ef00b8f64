/**
 * The login seal key (Key Vault): cookies sealed with a version another instance created open here,
 * and made-up key ids neither cost a Key Vault read each nor keep a real new version from being found.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { SealKeyService } from '../../shared/signin/seal-key.ts';
import { LoginTransactionStore } from '../../shared/signin/transactions.ts';
import { testServices } from '../helpers/stack.ts';

describe('login seal key', () => {
  it('a version made on another instance opens here, even while someone sends made-up key ids', async () => {
    const clock = manualClock();
    const s = await testServices({ clock });
    const name = `seal-test-${randomBytes(4).toString('hex')}`;
    const keysA = new SealKeyService(s.secrets, clock, s.log, name);
    const keysB = new SealKeyService(s.secrets, clock, s.log, name);
    const a = new LoginTransactionStore(s.tables.loginTransactions, clock, keysA);
    const b = new LoginTransactionStore(s.tables.loginTransactions, clock, keysB);
    const input = { integrationId: 'i', expectedUsername: 'u', returnTo: null };

    const first = await a.create(input); // creates the key; B reads the same version
    await expect(b.open(first.state, first.cookie.value)).resolves.toMatchObject({ expectedUsername: 'u' });

    const forged = (value: string) =>
      value.replace(/^v1\.[0-9a-f]{32}\./, `v1.${randomBytes(16).toString('hex')}.`);
    // An attacker's made-up key id: refused (it looked at the version list once).
    await expect(a.open(first.state, forged(first.cookie.value))).rejects.toMatchObject({
      reason: 'other_browser',
    });
    await keysB.rotate(); // B seals with a new version from now on
    const second = await b.create(input);
    // 30 s later the attacker tries again (the list is read again, now with B's version) …
    clock.advance(30_000);
    await expect(a.open(first.state, forged(first.cookie.value))).rejects.toMatchObject({
      reason: 'other_browser',
    });
    // … and a real cookie sealed by B still opens on A at once.
    await expect(a.open(second.state, second.cookie.value)).resolves.toMatchObject({ expectedUsername: 'u' });
  });
});
