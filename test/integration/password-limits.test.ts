/**
 * The password sign-in's limits (shared/signin/password-limits.ts) with the success path's storage
 * requests run together (PW5, RL1, RL2): the account's counter is an insert run alongside the address's
 * slot and backoff read, so each ordering this allows is checked here with bursts of 200, through the
 * sign-in service on real tables (the address is a parameter of the service: HTTP requests of a test
 * all come from 127.0.0.1).
 */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { ACCOUNT_POLICY, ADDRESS_POLICY, counterKey } from '../../shared/limits/throttle.ts';
import { SignInError } from '../../shared/signin/errors.ts';
import { isNotFound } from '../../shared/storage/tables.ts';
import type { Services } from '../../shared/web/services.ts';
import { testServices } from '../helpers/stack.ts';
import { countingPasswords } from '../helpers/users.ts';

const BURST = 200;
const PASSWORD = 'correct horse battery staple';

type Outcome = { status: 303 | 401 | 429; retryAfter: number };

async function attempt(s: Services, username: string, password: string, address: string): Promise<Outcome> {
  try {
    await s.signIn.passwordSignIn(username, password, null, {
      clientAddress: address,
      correlationId: 'test',
    });
    return { status: 303, retryAfter: 0 };
  } catch (err) {
    if (!(err instanceof SignInError) || (err.status !== 401 && err.status !== 429)) throw err;
    return { status: err.status, retryAfter: Number(err.headers['Retry-After'] ?? 0) };
  }
}

const count = (outcomes: Outcome[], status: number) => outcomes.filter((o) => o.status === status).length;

async function setup(opts: { clock?: ReturnType<typeof manualClock> } = {}) {
  const passwords = countingPasswords();
  const s = await testServices({ passwords, ...(opts.clock ? { clock: opts.clock } : {}) });
  const user = async (username: string) =>
    s.users.create({ username, verifyType: 'password', password: PASSWORD }, { actor: 'test' });
  return { s, passwords, user };
}

async function accountRowExists(s: Services, username: string): Promise<boolean> {
  try {
    await s.tables.throttle.getEntity(counterKey('pwd-user', username), 'f');
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

describe('password limits with the success path in one round before the check', () => {
  it(`PW5/RL2: ${BURST} parallel wrong passwords on one account from ${BURST} addresses: at most freeAttempts + 1 checked`, async () => {
    const { s, passwords, user } = await setup();
    await user('victim');
    passwords.checks = 0;
    const outcomes = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        attempt(s, 'victim', `guess ${i}`, `10.1.${Math.floor(i / 250)}.${i % 250}`),
      ),
    );
    const checked = count(outcomes, 401);
    console.info(`account burst: ${checked} of ${BURST} reached a password check`);
    expect(passwords.checks).toBe(checked);
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(ACCOUNT_POLICY.freeAttempts + 1);
    expect(count(outcomes, 429)).toBe(BURST - checked);
    expect(outcomes.filter((o) => o.status === 429).every((o) => o.retryAfter > 0)).toBe(true);
    // The block holds for the right password too, from yet another address.
    expect((await attempt(s, 'victim', PASSWORD, '10.9.9.9')).status).toBe(429);
  }, 120_000);

  it('attempts refused for their address count nothing on the account (its insert is taken back)', async () => {
    const { s, user } = await setup();
    await user('bystander');
    const address = '10.2.0.1';
    // Spend the address: a spray of unknown usernames (dummy checks).
    const spray = await Promise.all(
      Array.from({ length: BURST }, (_, i) => attempt(s, `spray-${i}`, `guess ${i}`, address)),
    );
    expect(count(spray, 401)).toBeLessThanOrEqual(ADDRESS_POLICY.freeAttempts + 1);
    // Parallel attempts on a real account from that address: all refused, and no account counter left.
    const refused = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attempt(s, 'bystander', `guess ${i}`, address)),
    );
    expect(refused.map((o) => o.status)).toEqual(Array(20).fill(429));
    expect(await accountRowExists(s, 'bystander')).toBe(false);
    // The account signs in from elsewhere: nothing was counted on it.
    expect((await attempt(s, 'bystander', PASSWORD, '10.2.0.2')).status).toBe(303);
  }, 120_000);

  it('attempts refused for their account give the address slot back (only failures use the address up)', async () => {
    const { s, user } = await setup();
    await user('locked');
    const address = '10.3.0.1';
    for (let i = 0; i <= ACCOUNT_POLICY.freeAttempts; i++) {
      expect((await attempt(s, 'locked', `guess ${i}`, address)).status).toBe(401);
    }
    // The account is blocked now: more attempts on it from the address are refused for the account
    // (one after another: more than the address's free attempts that are left) …
    for (let i = 0; i < ADDRESS_POLICY.freeAttempts; i++) {
      expect((await attempt(s, 'locked', `again ${i}`, address)).status).toBe(429);
    }
    // … and leaves the address the free attempts its 6 failures did not use (then one more, the backoff).
    const left = ADDRESS_POLICY.freeAttempts - (ACCOUNT_POLICY.freeAttempts + 1);
    let failures = 0;
    for (let i = 0; i < left + 3; i++) {
      const o = await attempt(s, `other-${i}`, 'wrong', address);
      if (o.status !== 401) break;
      failures++;
    }
    expect(failures).toBe(left + 1);
  }, 120_000);

  it('RL2: an address that used its free attempts gets no fresh ones in the next window while remembered', async () => {
    const clock = manualClock(Date.parse('2026-11-30T10:00:00Z'));
    const { s, passwords } = await setup({ clock });
    const address = '10.4.0.1';
    const burst = () =>
      Promise.all(Array.from({ length: BURST }, (_, i) => attempt(s, `spray-${i}`, `guess ${i}`, address)));
    passwords.checks = 0;
    const first = await burst();
    expect(count(first, 401)).toBeLessThanOrEqual(ADDRESS_POLICY.freeAttempts + 1);
    expect(passwords.checks).toBe(count(first, 401));
    // A new window of slots, the block over, the escalation still remembered (lastAt within windowMs).
    clock.advance(ADDRESS_POLICY.windowMs);
    passwords.checks = 0;
    const second = await burst();
    console.info(`address bursts: ${count(first, 401)} then ${count(second, 401)} of ${BURST} checked`);
    expect(count(second, 401)).toBeLessThanOrEqual(1);
    expect(passwords.checks).toBe(count(second, 401));
    expect(count(second, 429)).toBe(BURST - count(second, 401));
  }, 120_000);

  it('a successful sign-in leaves no account counter and no address slot behind', async () => {
    const { s, user } = await setup();
    await user('clean');
    expect((await attempt(s, 'clean', 'a wrong one', '10.5.0.1')).status).toBe(401);
    expect(await accountRowExists(s, 'clean')).toBe(true);
    expect((await attempt(s, 'clean', PASSWORD, '10.5.0.2')).status).toBe(303);
    expect(await accountRowExists(s, 'clean')).toBe(false);
    let slots = 0;
    for await (const row of s.tables.throttle.listEntities()) {
      if (String(row.partitionKey).startsWith(counterKey('slots:pwd-addr', '10.5.0.2'))) slots++;
    }
    expect(slots).toBe(0);
  }, 60_000);
});
