/**
 * The hint a code, refresh or access token carries in its value: opened only with a key this instance
 * holds, only for the value and the kind it was sealed for, only within that kind's lifetime and only
 * as sealed, unreadable in the value itself (its length too, mostly), never naming a row outside the
 * OP sessions' partitions, and never too long.
 */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { HintSeal, hintOf, MAX_SEALED_HINT_CHARS } from '../../shared/oidc/carried-hints.ts';
import type { IssuedHint } from '../../shared/oidc/issued-hints.ts';
import { HINT_LIFETIMES } from '../../shared/oidc/provider.ts';
import { hashId, sessionRowOf } from '../../shared/oidc/store-keys.ts';

const ID = 'Z3I2vVw-vD88q5WyexcFFbL6ty1PqXX43i-7q8z6c5A';
const SESSION_RK = hashId('op-session-id');
const HINT: IssuedHint = {
  grantId: 'Y55Va7CM3LawfIiU7uXhuzKdraQxr2ELxd1MubExLgQ',
  sub: '2f1c7a4e-9d3b-4c55-8a7e-1b2c3d4e5f60',
  brokerSession: { u: 'alice@contoso.example', s: '31BG5x-v7DrmuUWcztpZLnEsP6DVdwgV0UUT5eTPsUA' },
  opSession: { uid: 'uid-1', ...sessionRowOf(SESSION_RK) },
};

const clock = manualClock(1_800_000_000_000);
const seal = (...keys: string[]) => new HintSeal(keys, HINT_LIFETIMES, () => clock.now());
const CODE = 'AuthorizationCode';

describe('HintSeal', () => {
  it('seals a hint onto the id and opens it again, at any instance holding the key', () => {
    const value = seal('cookie-key-1').attach(CODE, ID, HINT);
    expect(value.startsWith(`${ID}.`)).toBe(true);
    expect(value).toMatch(/^[A-Za-z0-9_.-]+$/);
    // Names the user, the session and the grant, but the value shows none of them.
    expect(value).not.toContain('alice');
    expect(value).not.toContain(HINT.brokerSession?.s);
    expect(value).not.toContain(HINT.grantId);
    expect(seal('cookie-key-1').open(CODE, value)).toEqual(HINT);
    // Two seals of the same hint differ (a fresh IV each).
    expect(seal('cookie-key-1').attach(CODE, ID, HINT)).not.toBe(value);
  });

  it('pads: names of different lengths give values of one length', () => {
    const k = seal('k');
    const short = k.attach(CODE, ID, { ...HINT, brokerSession: { u: 'al', s: 's' } });
    const long = k.attach(CODE, ID, { ...HINT, brokerSession: { u: 'a'.repeat(60), s: 's' } });
    const bare = k.attach(CODE, ID, { grantId: HINT.grantId });
    expect(short.length).toBe(long.length);
    expect(bare.length).toBe(long.length);
  });

  it('opens with the previous key after a rotation, and not with a key it never held', () => {
    const value = seal('old-key').attach(CODE, ID, HINT);
    expect(seal('new-key', 'old-key').open(CODE, value)).toEqual(HINT);
    expect(seal('new-key').open(CODE, value)).toBeUndefined();
    expect(seal().open(CODE, value)).toBeUndefined();
  });

  it('refuses a hint moved to another id, changed, spelled otherwise or cut short', () => {
    const k = seal('k');
    const value = k.attach(CODE, ID, HINT);
    const sealed = value.slice(ID.length + 1);
    expect(k.open(CODE, `${'A'.repeat(43)}.${sealed}`)).toBeUndefined();
    const flipped = sealed.slice(0, 10) + (sealed[10] === 'A' ? 'B' : 'A') + sealed.slice(11);
    expect(k.open(CODE, `${ID}.${flipped}`)).toBeUndefined();
    expect(k.open(CODE, `${ID}.${sealed.slice(0, 20)}`)).toBeUndefined();
    // Extra characters that decode to the same bytes are not the same value.
    expect(k.open(CODE, `${value}A`)).toBeUndefined();
    expect(k.open(CODE, `${ID}.${sealed}=`)).toBeUndefined();
    expect(k.open(CODE, ID)).toBeUndefined();
    expect(k.open(CODE, `.${sealed}`)).toBeUndefined();
  });

  it('opens only as the kind it was sealed for, and only while that kind lives', () => {
    const k = seal('k');
    const code = k.attach(CODE, ID, HINT);
    // A used code sent as an access token (userinfo) or a refresh token names nothing.
    expect(k.open('AccessToken', code)).toBeUndefined();
    expect(k.open('RefreshToken', code)).toBeUndefined();
    const access = k.attach('AccessToken', ID, HINT);
    clock.advance(HINT_LIFETIMES.AuthorizationCode * 1000 + 1000);
    expect(k.open(CODE, code)).toBeUndefined(); // the code has expired
    expect(k.open('AccessToken', access)).toEqual(HINT);
    clock.advance(HINT_LIFETIMES.AccessToken * 1000);
    expect(k.open('AccessToken', access)).toBeUndefined();
    // Issued by an instance whose clock is a little ahead: still opens.
    const ahead = new HintSeal(['k'], HINT_LIFETIMES, () => clock.now() + 60_000).attach(CODE, ID, HINT);
    expect(k.open(CODE, ahead)).toEqual(HINT);
  });

  it('keeps only what a hint names, and leaves out what it does not', () => {
    const k = seal('k');
    expect(k.open(CODE, k.attach(CODE, ID, { grantId: 'g' }))).toEqual({ grantId: 'g' });
    expect(k.open(CODE, k.attach(CODE, ID, { grantId: 'g', sub: 's' }))).toEqual({ grantId: 'g', sub: 's' });
    // A session row outside its own partition is not carried.
    const elsewhere = { ...HINT, opSession: { uid: 'u', pk: 'uid:00', rk: SESSION_RK } };
    expect(k.open(CODE, k.attach(CODE, ID, elsewhere))?.opSession).toBeUndefined();
  });

  it('carries no hint rather than a value too long, and none without a key', () => {
    const long = { ...HINT, brokerSession: { u: 'u'.repeat(300), s: 's'.repeat(300) } };
    expect(seal('k').attach(CODE, ID, long)).toBe(ID);
    expect(seal('k').attach(CODE, ID, { ...HINT, sub: 'x'.repeat(513) })).toBe(ID);
    expect(seal().attach(CODE, ID, HINT)).toBe(ID);
    const longest = seal('k').attach(CODE, ID, {
      ...HINT,
      brokerSession: { u: 'u'.repeat(256), s: 's'.repeat(43) },
    });
    expect(longest).not.toBe(ID); // the longest username still carries its hint
    expect(longest.length - ID.length - 1).toBeLessThanOrEqual(MAX_SEALED_HINT_CHARS);
    expect(longest.length).toBeLessThan(800);
  });
});

describe('hintOf (what an opened hint may name)', () => {
  it('takes only the shape attach seals', () => {
    const fields = ['1800000000', HINT.grantId, 'sub', 'alice', 'sid', 'uid-1', SESSION_RK];
    expect(hintOf(fields)).toEqual({
      grantId: HINT.grantId,
      sub: 'sub',
      brokerSession: { u: 'alice', s: 'sid' },
      opSession: { uid: 'uid-1', ...sessionRowOf(SESSION_RK) },
    });
    for (const bad of [
      undefined,
      null,
      'text',
      { grantId: 'g' },
      fields.slice(0, 6),
      [...fields, 'x'],
      ['1', 1, 'sub', 'alice', 'sid', 'uid-1', SESSION_RK],
      ['1', '', 'sub', 'alice', 'sid', 'uid-1', SESSION_RK],
      ['1', 'g', 'x'.repeat(513), '', '', '', ''],
    ])
      expect(hintOf(bad), JSON.stringify(bad)).toBeUndefined();
  });

  it('names an OP session row only by a well-formed key, in the sessions’ own partition', () => {
    expect(hintOf(['1', 'g', '', '', '', 'uid-1', 'not a row key'])).toEqual({ grantId: 'g' });
    expect(hintOf(['1', 'g', '', '', '', 'uid/1', SESSION_RK])).toEqual({ grantId: 'g' });
    expect(hintOf(['1', 'g', '', '', '', '', SESSION_RK])).toEqual({ grantId: 'g' });
    expect(hintOf(['1', 'g', '', '', '', 'uid-1', SESSION_RK])?.opSession?.pk).toMatch(
      /^Session:[0-9a-f]{2}$/,
    );
  });
});
