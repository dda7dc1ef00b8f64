/**
 * Test helpers for users: a store record to insert directly (seeding), the management
 * API's users routes as JSON, and the real password functions counting their verifications.
 */
import { randomUUID } from 'node:crypto';
import { hashPassword, verifyPassword } from '../../shared/passwords/index.ts';
import type { PasswordVerifier } from '../../shared/signin/ports.ts';
import type { NewUserRecord } from '../../shared/users/store.ts';
import type { TestApp } from './stack.ts';

/** A password user (or one verified by `integrationId`) with no email, roles or binding, made now. */
export function userRecord(
  username: string,
  opts: { integrationId?: string; displayName?: string; now?: string } = {},
): NewUserRecord {
  const now = opts.now ?? new Date().toISOString();
  return {
    id: randomUUID(),
    username,
    displayName: opts.displayName ?? username,
    email: null,
    verifyType: opts.integrationId
      ? { kind: 'integration', integrationId: opts.integrationId }
      : { kind: 'password' },
    passwordHash: null,
    roles: [],
    disabled: false,
    entraBinding: null,
    lastLoginAt: null,
    sessionsRevokedAt: null,
    createdAt: now,
    updatedAt: now,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: management API JSON
export type Json = Record<string, any>;

/** `call('PATCH', '/alice', {...})` on /api/manage/users with the test admin: status and JSON body. */
export function usersApi(app: TestApp) {
  return async (method: string, path: string, json?: unknown, headers: Record<string, string> = {}) => {
    const r = await app.admin(`/api/manage/users${path}`, {
      method,
      headers,
      ...(json !== undefined ? { json } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : {}) as Json };
  };
}

/** The real argon2 functions, counting every verification (real or dummy). */
export function countingPasswords(): PasswordVerifier & { checks: number } {
  const p = {
    checks: 0,
    verify: async (phc: string, pw: string) => {
      p.checks++;
      return verifyPassword(phc, pw);
    },
    dummyVerify: async (_pw: string) => {
      p.checks++;
    },
    needsRehash: () => false,
    hash: hashPassword,
  };
  return p;
}
