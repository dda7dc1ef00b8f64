import { describe, expect, it } from 'vitest';
import { manualClock } from '../../shared/core/clock.ts';
import { SecretCache } from '../../shared/integrations/cache.ts';
import { daysUntil, expiryWarnings } from '../../shared/integrations/expiry.ts';
import { createIntegrationSchema, expiresOnSchema, tenantSchema } from '../../shared/integrations/schemas.ts';
import { titleKey } from '../../shared/integrations/store.ts';

const T0 = Date.parse('2026-11-27T10:00:00Z');

describe('integration schemas', () => {
  it('accepts tenant ids, domains and organizations; rejects the rest', () => {
    for (const ok of [
      '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b',
      'contoso.onmicrosoft.com',
      'ORGANIZATIONS',
      'a-b.example',
    ]) {
      expect(tenantSchema.safeParse(ok).success, ok).toBe(true);
    }
    for (const bad of [
      'common',
      'consumers',
      'contoso',
      '-a.example',
      'a..b',
      'https://x.example',
      '',
      'a.1',
    ]) {
      expect(tenantSchema.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('normalises expiry dates to ISO and refuses impossible ones', () => {
    expect(expiresOnSchema.parse('2027-03-01')).toBe('2027-03-01T00:00:00.000Z');
    expect(expiresOnSchema.parse('2027-03-01T12:00:00-01:00')).toBe('2027-03-01T13:00:00.000Z');
    for (const bad of ['2027-02-29', '2027-3-1', '2027-03-01T12:00:00', '1999-12-31', 'x']) {
      expect(expiresOnSchema.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('requires allowedTenants exactly when the tenant is organizations', () => {
    const base = {
      kind: 'azure-ad',
      title: 'T',
      applicationId: '3b7e6a2c-1d4f-4c8e-9a0b-5e6f7a8b9c0d',
      clientSecret: 's',
    };
    expect(createIntegrationSchema.safeParse({ ...base, tenant: 'organizations' }).success).toBe(false);
    const ok = createIntegrationSchema.parse({
      ...base,
      tenant: 'organizations',
      allowedTenants: ['6F1D2C3B-4A59-4E8F-9B7A-0C1D2E3F4A5B', '6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b'],
    });
    expect(ok.allowedTenants).toEqual(['6f1d2c3b-4a59-4e8f-9b7a-0c1d2e3f4a5b']);
    expect(ok).toMatchObject({ cloud: 'public', matchClaim: 'preferred_username' });
  });

  it('keys titles case-insensitively with a RowKey-safe hash', () => {
    expect(titleKey('CRM / Sales #1?')).toBe(titleKey('crm / sales #1?'));
    expect(titleKey('CRM')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('secret cache', () => {
  it('hits only the cached version, keeps one version per integration, expires after the TTL', () => {
    const clock = manualClock(T0);
    const cache = new SecretCache(clock, 1000, 2);
    cache.set('a', 'v1', 's1');
    expect(cache.get('a', 'v1')).toBe('s1');
    expect(cache.get('a', 'v2')).toBeUndefined();
    cache.set('a', 'v2', 's2');
    expect(cache.get('a', 'v1')).toBeUndefined();
    expect(cache.get('a', 'v2')).toBe('s2');
    cache.set('b', 'v1', 'x');
    cache.set('c', 'v1', 'y');
    expect(cache.size).toBe(2);
    expect(cache.get('a', 'v2')).toBeUndefined();
    clock.advance(1000);
    expect(cache.get('c', 'v1')).toBeUndefined();
  });
});

describe('secret expiry', () => {
  it('counts whole days and warns within 30 days or once expired', () => {
    expect(daysUntil(null, T0)).toBeNull();
    expect(daysUntil('2026-11-28T09:00:00Z', T0)).toBe(0);
    expect(daysUntil('2026-12-07T10:00:00Z', T0)).toBe(10);
    expect(daysUntil('2026-11-26T10:00:00Z', T0)).toBe(-1);
    const warnings = expiryWarnings(
      [
        { id: 'later', secretExpiresOn: '2027-06-01T00:00:00Z' },
        { id: 'soon', secretExpiresOn: '2026-12-20T00:00:00Z' },
        { id: 'gone', secretExpiresOn: '2026-11-01T00:00:00Z' },
        { id: 'unknown', secretExpiresOn: null },
      ],
      T0,
    );
    expect(warnings.map((w) => [w.integrationId, w.code])).toEqual([
      ['gone', 'integration_secret_expired'],
      ['soon', 'integration_secret_expiring'],
    ]);
  });
});
