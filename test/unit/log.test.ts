import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/core/log.ts';
import { captureLogs } from '../helpers/stack.ts';

describe('structured logging', () => {
  it('redacts credential-like fields and keeps one record per line', () => {
    const cap = captureLogs();
    try {
      createLogger().info('signin', {
        username: 'eve\n{"event":"forged"}',
        password: 'hunter2-canary',
        nested: { clientSecret: 'canary-secret', code: 'auth-code-canary' },
        authorization: 'Bearer canary-token',
        error: Object.assign(new Error('SDK said: secret=canary-secret'), { statusCode: 409 }),
      });
    } finally {
      cap.stop();
    }
    expect(cap.lines).toHaveLength(1);
    const line = cap.lines[0] as string;
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toContain('hunter2-canary');
    expect(line).not.toContain('canary-secret');
    expect(line).not.toContain('canary-token');
    expect(line).not.toContain('auth-code-canary');
    const record = JSON.parse(line);
    expect(record.username).toBe('eve\n{"event":"forged"}');
    expect(record.error).toEqual({ name: 'Error', statusCode: 409 });
    expect(record.time).toMatch(/Z$/);
  });
});
