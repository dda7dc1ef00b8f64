/**
 * The hint a code or refresh token carries in its value: opened only with a key this instance holds,
 * only for the value it was sealed onto, unreadable in the value itself, and never made too long.
 */
import { describe, expect, it } from 'vitest';
import { HintSeal, MAX_SEALED_HINT_CHARS } from '../../shared/oidc/carried-hints.ts';
import type { IssuedHint } from '../../shared/oidc/issued-hints.ts';

const ID = 'Z3I2vVw-vD88q5WyexcFFbL6ty1PqXX43i-7q8z6c5A';
const HINT: IssuedHint = {
  grantId: 'Y55Va7CM3LawfIiU7uXhuzKdraQxr2ELxd1MubExLgQ',
  sub: '2f1c7a4e-9d3b-4c55-8a7e-1b2c3d4e5f60',
  brokerSession: { u: 'alice@contoso.example', s: '31BG5x-v7DrmuUWcztpZLnEsP6DVdwgV0UUT5eTPsUA' },
  opSession: { uid: 'uid-1', pk: 'Session:6a', rk: 'akBEMgmfhcH_A8imQHawYdNMxOPgVNyjMoN8n56G0Zc' },
};

describe('HintSeal', () => {
  it('seals a hint onto the id and opens it again, at any instance holding the key', () => {
    const value = new HintSeal(['cookie-key-1']).attach(ID, HINT);
    expect(value.startsWith(`${ID}.`)).toBe(true);
    expect(value).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(value.length).toBeLessThan(600);
    // Names the user and the session, but the value does not show them.
    expect(value).not.toContain('alice');
    expect(value).not.toContain(HINT.brokerSession?.s);
    expect(value).not.toContain(HINT.grantId);
    expect(new HintSeal(['cookie-key-1']).open(value)).toEqual(HINT);
    // Two seals of the same hint differ (a fresh IV each).
    expect(new HintSeal(['cookie-key-1']).attach(ID, HINT)).not.toBe(value);
  });

  it('opens with the previous key after a rotation, and not with a key it never held', () => {
    const value = new HintSeal(['old-key']).attach(ID, HINT);
    expect(new HintSeal(['new-key', 'old-key']).open(value)).toEqual(HINT);
    expect(new HintSeal(['new-key']).open(value)).toBeUndefined();
    expect(new HintSeal([]).open(value)).toBeUndefined();
  });

  it('refuses a hint moved to another id, changed, or cut short', () => {
    const seal = new HintSeal(['k']);
    const value = seal.attach(ID, HINT);
    const sealed = value.slice(ID.length + 1);
    expect(seal.open(`${'A'.repeat(43)}.${sealed}`)).toBeUndefined();
    const flipped = sealed.slice(0, 10) + (sealed[10] === 'A' ? 'B' : 'A') + sealed.slice(11);
    expect(seal.open(`${ID}.${flipped}`)).toBeUndefined();
    expect(seal.open(`${ID}.${sealed.slice(0, 20)}`)).toBeUndefined();
    expect(seal.open(`${ID}.${sealed}=`)).toBeUndefined();
    expect(seal.open(ID)).toBeUndefined();
    expect(seal.open(`.${sealed}`)).toBeUndefined();
  });

  it('keeps only what a hint names, and leaves out what it does not', () => {
    const seal = new HintSeal(['k']);
    expect(seal.open(seal.attach(ID, { grantId: 'g' }))).toEqual({ grantId: 'g' });
    expect(seal.open(seal.attach(ID, { grantId: 'g', sub: 's' }))).toEqual({ grantId: 'g', sub: 's' });
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
  });
});
