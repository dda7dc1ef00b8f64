import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { addressBucket } from '../../shared/limits/throttle.ts';
import { clientAddressOf } from '../../shared/web/endpoint.ts';

describe('address buckets for rate limits', () => {
  it('counts IPv4 addresses one by one and IPv6 by /64', () => {
    expect(addressBucket('203.0.113.9')).toBe('203.0.113.9');
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:0db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('2001:db8::2')).toBe(addressBucket('2001:db8::ffff:1'));
    expect(addressBucket('2001:db8:0:1::1')).not.toBe(addressBucket('2001:db8:0:2::1'));
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket('unknown')).toBe('unknown');
    // IPv4-mapped and -compatible forms are the IPv4 address, not one shared ::/64 bucket.
    expect(addressBucket('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressBucket('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(addressBucket('::1.2.3.4')).toBe('1.2.3.4');
  });
});

describe('client address from X-Forwarded-For', () => {
  const of = (xff?: string) =>
    clientAddressOf(
      new HttpRequest({
        url: 'http://localhost/',
        method: 'GET',
        headers: xff ? { 'x-forwarded-for': xff } : {},
      }),
    );
  it('trusts only the last entry (the one the platform appended) and strips ports', () => {
    expect(of('6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
    expect(of('203.0.113.9:51234')).toBe('203.0.113.9');
    expect(of('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(of('[::ffff:203.0.113.9]:443')).toBe('203.0.113.9');
    expect(of('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(of('not an address')).toBe('unknown');
    expect(of()).toBe('unknown');
  });
});
