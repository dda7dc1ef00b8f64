import { readFileSync } from 'node:fs';
import { hash } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import {
  commonPasswords,
  dummyVerify,
  hashPassword,
  needsRehash,
  PHC_PREFIX,
  passwordLength,
  validatePasswordPolicy,
  verifyPassword,
} from '../../shared/passwords/index.ts';

describe('passwords', () => {
  it('hashes with argon2id m=19456,t=2,p=1 as a PHC string, salted', async () => {
    const a = await hashPassword('a long enough passphrase');
    const b = await hashPassword('a long enough passphrase');
    expect(a.startsWith(PHC_PREFIX)).toBe(true);
    expect(a).not.toBe(b);
    expect(await verifyPassword(a, 'a long enough passphrase')).toBe(true);
    expect(await verifyPassword(a, 'a long enough passphrasE')).toBe(false);
    expect(await verifyPassword('not a hash', 'x')).toBe(false);
    expect(needsRehash(a)).toBe(false);
  });

  it('takes this long to hash one password (mean of 20)', async () => {
    const started = performance.now();
    for (let i = 0; i < 20; i++) await hashPassword(`timing passphrase ${i}`);
    const mean = (performance.now() - started) / 20;
    console.log(`hashPassword: mean ${mean.toFixed(1)} ms over 20`);
    expect(mean).toBeGreaterThan(1);
  });

  it('never truncates: 256-character passwords differing only in the last character', async () => {
    const base = 'p'.repeat(255);
    const h = await hashPassword(`${base}1`);
    expect(await verifyPassword(h, `${base}1`)).toBe(true);
    expect(await verifyPassword(h, `${base}2`)).toBe(false);
    expect(validatePasswordPolicy(`${base}1`)).toEqual([]);
  });

  it('normalises to NFC before hashing and counting', async () => {
    const composed = 'caf\u00e9 au lait!';
    const decomposed = 'cafe\u0301 au lait!';
    const h = await hashPassword(composed);
    expect(await verifyPassword(h, decomposed)).toBe(true);
    expect(passwordLength(decomposed)).toBe(passwordLength(composed));
    expect(passwordLength('😀'.repeat(8))).toBe(8);
    expect(validatePasswordPolicy('😀'.repeat(8))).toEqual([]);
    expect(validatePasswordPolicy('😀'.repeat(257))).toEqual(['must be at most 256 characters']);
  });

  it('flags weaker or foreign hashes for rehash', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: const enums of the binding.
    const weak = await hash('x', { algorithm: 2, memoryCost: 4096, timeCost: 2, parallelism: 1 } as any);
    // biome-ignore lint/suspicious/noExplicitAny: const enums of the binding.
    const argon2i = await hash('x', { algorithm: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 } as any);
    // biome-ignore lint/suspicious/noExplicitAny: const enums of the binding.
    const t1 = await hash('x', { algorithm: 2, memoryCost: 19456, timeCost: 1, parallelism: 1 } as any);
    expect(needsRehash(weak)).toBe(true);
    expect(needsRehash(argon2i)).toBe(true);
    expect(needsRehash(t1)).toBe(true);
    expect(needsRehash('$2b$10$abcdefghijklmnopqrstuv')).toBe(true);
    expect(await verifyPassword(weak, 'x')).toBe(true);
  });

  it('dummyVerify always fails and costs about one verification', async () => {
    const real = await hashPassword('some user passphrase');
    // Interleaved samples and medians, so a busy machine slows both sides alike. Only the lower bound
    // matters for PW4: an unknown user must not answer measurably faster than a known one.
    const realMs: number[] = [];
    const dummyMs: number[] = [];
    for (let i = 0; i < 7; i++) {
      let t = performance.now();
      await verifyPassword(real, 'wrong guess here');
      realMs.push(performance.now() - t);
      t = performance.now();
      expect(await dummyVerify('wrong guess here')).toBe(false);
      dummyMs.push(performance.now() - t);
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[3] as number;
    expect(median(dummyMs)).toBeGreaterThan(median(realMs) * 0.5);
  });

  it('applies the policy: 8–256 code points, common passwords (any case), not the username, no composition rules', () => {
    expect(validatePasswordPolicy('Zq7!xw2')).toEqual(['must be at least 8 characters']);
    expect(validatePasswordPolicy('correct horse battery staple')).toEqual([]);
    expect(validatePasswordPolicy('alllowercaseletters')).toEqual([]);
    expect(validatePasswordPolicy('PASSWORD123')).toContain(
      'is too common (it is on the list of most used passwords)',
    );
    expect(validatePasswordPolicy('Qwertyuiop')).toHaveLength(1);
    expect(validatePasswordPolicy('Alice.Smith', { username: 'alice.smith' })).toEqual([
      'must not be the username',
    ]);
    expect(validatePasswordPolicy('x'.repeat(2000))).toEqual(['must be at most 256 characters']);
    // Problems never echo the password.
    expect(JSON.stringify(validatePasswordPolicy('abc'))).not.toContain('abc');
  });

  it('ships at least 10,000 common passwords', () => {
    const lines = readFileSync('data/common-passwords.txt', 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(10_000);
    expect(commonPasswords().size).toBeGreaterThanOrEqual(10_000);
    for (const p of ['123456789', 'password1', 'iloveyou', 'qwertyuiop'])
      expect(commonPasswords().has(p)).toBe(true);
  });
});
