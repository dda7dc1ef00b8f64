/**
 * The hint a code or refresh token carries in its value: opened only with a key this instance holds,
 * only for the value it was sealed onto and only as sealed, unreadable in the value itself (its
 * length too, mostly), never naming a row outside the OP sessions' partitions, and never too long.
 */
import { describe, expect, it } from 'vitest';
import { HintSeal, hintOf, MAX_SEALED_HINT_CHARS } from '../../shared/oidc/carried-hints.ts';
import type { IssuedHint } from '../../shared/oidc/issued-hints.ts';
import { hashId, sessionRowOf } from '../../shared/oidc/store-keys.ts';

const ID = 'Z3I2vVw-vD88q5WyexcFFbL6ty1PqXX43i-7q8z6c5A';
const SESSION_RK = hashId('op-session-id');
const HINT: IssuedHint = {
  grantId: 'Y55Va7CM3LawfIiU7uXhuzKdraQxr2ELxd1MubExLgQ',
  sub: '2f1c7a4e-9d3b-4c55-8a7e-1b2c3d4e5f60',
  brokerSession: { u: 'alice@contoso.example', s: '31BG5x-v7DrmuUWcztpZLnEsP6DVdwgV0UUT5eTPsUA' },
  opSession: { uid: 'uid-1', ...sessionRowOf(SESSION_RK) },
};

describe('HintSeal', () => {
  it('seals a hint onto the id and opens it again, at any instance holding the key', () => {
    const value = new HintSeal(['cookie-key-1']).attach(ID, HINT);
    expect(value.startsWith(`${ID}.`)).toBe(true);
    expect(value).toMatch(/^[A-Za-z0-9_.-]+$/);
    // Names the user, the session and the grant, but the value shows none of them.
    expect(value).not.toContain('alice');
    expect(value).not.toContain(HINT.brokerSession?.s);
    expect(value).not.toContain(HINT.grantId);
    expect(new HintSeal(['cookie-key-1']).open(value)).toEqual(HINT);
    // Two seals of the same hint differ (a fresh IV each).
    expect(new HintSeal(['cookie-key-1']).attach(ID, HINT)).not.toBe(value);
  });

  it('pads: names of different lengths give values of one length', () => {
    const seal = new HintSeal(['k']);
    const short = seal.attach(ID, { ...HINT, brokerSession: { u: 'al', s: 's' } });
    const long = seal.attach(ID, { ...HINT, brokerSession: { u: 'a'.repeat(60), s: 's' } });
    const bare = seal.attach(ID, { grantId: HINT.grantId });
    expect(short.length).toBe(long.length);
    expect(bare.length).toBe(long.length);
  });

  it('opens with the previous key after a rotation, and not with a key it never held', () => {
    const value = new HintSeal(['old-key']).attach(ID, HINT);
    expect(new HintSeal(['new-key', 'old-key']).open(value)).toEqual(HINT);
    expect(new HintSeal(['new-key']).open(value)).toBeUndefined();
    expect(new HintSeal([]).open(value)).toBeUndefined();
  });

  it('refuses a hint moved to another id, changed, spelled otherwise or cut short', () => {
    const seal = new HintSeal(['k']);
    const value = seal.attach(ID, HINT);
    const sealed = value.slice(ID.length + 1);
    expect(seal.open(`${'A'.repeat(43)}.${sealed}`)).toBeUndefined();
    const flipped = sealed.slice(0, 10) + (sealed[10] === 'A' ? 'B' : 'A') + sealed.slice(11);
    expect(seal.open(`${ID}.${flipped}`)).toBeUndefined();
    expect(seal.open(`${ID}.${sealed.slice(0, 20)}`)).toBeUndefined();
    // Extra characters that decode to the same bytes are not the same value.
    expect(seal.open(`${value}A`)).toBeUndefined();
    expect(seal.open(`${ID}.${sealed}=`)).toBeUndefined();
    expect(seal.open(ID)).toBeUndefined();
    expect(seal.open(`.${sealed}`)).toBeUndefined();
  });

  it('keeps only what a hint names, and leaves out what it does not', () => {
    const seal = new HintSeal(['k']);
    expect(seal.open(seal.attach(ID, { grantId: 'g' }))).toEqual({ grantId: 'g' });
    expect(seal.open(seal.attach(ID, { grantId: 'g', sub: 's' }))).toEqual({ grantId: 'g', sub: 's' });
    // A session row outside its own partition is not carried.
    const elsewhere = { ...HINT, opSession: { uid: 'u', pk: 'uid:00', rk: SESSION_RK } };
    expect(seal.open(seal.attach(ID, elsewhere))?.opSession).toBeUndefined();
  });

  it('carries no hint rather than a value too long, and none without a key', () => {
    const long = { ...HINT, brokerSession: { u: 'u'.repeat(300), s: 's'.repeat(300) } };
    expect(new HintSeal(['k']).attach(ID, long)).toBe(ID);
    expect(new HintSeal(['k']).attach(ID, { ...HINT, sub: 'x'.repeat(513) })).toBe(ID);
    expect(new HintSeal([]).attach(ID, HINT)).toBe(ID);
    const longest = new HintSeal(['k']).attach(ID, {
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
    const fields = [HINT.grantId, 'sub', 'alice', 'sid', 'uid-1', SESSION_RK];
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
      fields.slice(0, 5),
      [...fields, 'x'],
      [1, 'sub', 'alice', 'sid', 'uid-1', SESSION_RK],
      ['', 'sub', 'alice', 'sid', 'uid-1', SESSION_RK],
      ['g', 'x'.repeat(513), '', '', '', ''],
    ])
      expect(hintOf(bad), JSON.stringify(bad)).toBeUndefined();
  });

  it('names an OP session row only by a well-formed key, in the sessions’ own partition', () => {
    expect(hintOf(['g', '', '', '', 'uid-1', 'not a row key'])).toEqual({ grantId: 'g' });
    expect(hintOf(['g', '', '', '', 'uid/1', SESSION_RK])).toEqual({ grantId: 'g' });
    expect(hintOf(['g', '', '', '', '', SESSION_RK])).toEqual({ grantId: 'g' });
    expect(hintOf(['g', '', '', '', 'uid-1', SESSION_RK])?.opSession?.pk).toMatch(/^Session:[0-9a-f]{2}$/);
  });
});
