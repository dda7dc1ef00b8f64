/**
 * Input schemas and the response shape of users (the management API).
 * Every input object is `.strict()`: unknown keys are a 400 naming the key.
 */
import { z } from 'zod';
import { PASSWORD_INPUT_MAX } from '../passwords/index.ts';

/** Largest JSON body the user routes read. */
export const USER_BODY_LIMIT = 8 * 1024;
export const USERNAME_PATTERN = /^[a-z0-9._@-]{1,64}$/;
/** Integration ids as the integrations store makes them; also keeps OData filters and keys safe. */
export const INTEGRATION_ID_PATTERN = /^[A-Za-z0-9-]{1,100}$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export const usernameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9._@-]+$/, 'may contain letters a-z, digits and . _ @ - only')
  // `.` and `..` are dot segments: URL parsers remove them (also as %2e), so the user could never be
  // read, changed or deleted through /api/manage/users/{username}.
  .refine((v) => v !== '.' && v !== '..', 'must not be "." or ".."')
  .transform((v) => v.toLowerCase());

export const displayNameSchema = z
  .string()
  .trim()
  .max(200, 'must be at most 200 characters')
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  // Half of a surrogate pair is no character: it could not be stored or shown as text.
  .refine((v) => !/\p{Cs}/u.test(v), 'must not contain half of a surrogate pair');

export const emailSchema = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email('must be a valid email address'));

export const integrationIdSchema = z.string().regex(INTEGRATION_ID_PATTERN, 'must be an integration id');

/** `"password"`, `{integrationId}` or `{title}` (the title is matched ignoring case). */
export const verifyTypeInputSchema = z.union([
  z.literal('password'),
  z.object({ integrationId: integrationIdSchema }).strict(),
  z
    .object({
      title: z
        .string()
        .trim()
        .min(1, 'must not be empty')
        .max(100, 'must be at most 100 characters')
        .refine((v) => !CONTROL.test(v), 'must not contain control characters'),
    })
    .strict(),
]);
export type VerifyTypeInput = z.output<typeof verifyTypeInputSchema>;

/** Role names: `admin` is the one the broker itself gives meaning to; apps may require others. */
export const ROLE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}$/;
export const MAX_ROLES = 20;

export const roleNameSchema = z
  .string()
  .regex(
    ROLE_NAME_PATTERN,
    'must be a role name: a-z, 0-9, _ and -, starting with a letter or digit, 1-40 long',
  );

/** A list of role names: at most MAX_ROLES, each once. */
export const rolesSchema = z
  .array(roleNameSchema)
  .max(MAX_ROLES, `must list at most ${MAX_ROLES} roles`)
  .refine((list) => new Set(list).size === list.length, 'must not list a role twice');

/** Shape only (1–1024 code units); the policy (length in code points, common list, username) is checked after. */
export const passwordSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(PASSWORD_INPUT_MAX, 'must be at most 256 characters');

export const createUserSchema = z
  .object({
    username: usernameSchema,
    displayName: displayNameSchema.optional(),
    email: emailSchema.optional(),
    verifyType: verifyTypeInputSchema,
    password: passwordSchema.optional(),
    roles: rolesSchema.optional(),
  })
  .strict();
export type CreateUserInput = z.output<typeof createUserSchema>;

export const patchUserSchema = z
  .object({
    displayName: displayNameSchema.optional(),
    email: emailSchema.nullable().optional(),
    verifyType: verifyTypeInputSchema.optional(),
    roles: rolesSchema.optional(),
    disabled: z.boolean().optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), {
    message: 'must change at least one of displayName, email, verifyType, roles, disabled',
  });
export type PatchUserInput = z.output<typeof patchUserSchema>;

export const setPasswordSchema = z.object({ password: passwordSchema }).strict();

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

export const listUsersQuerySchema = z
  .object({
    verifyType: z
      .string()
      .regex(INTEGRATION_ID_PATTERN, 'must be "password" or an integration id')
      .optional(),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`))
      .optional(),
    cursor: z.string().max(400, 'is not a valid cursor').optional(),
    /** Usernames starting with this (case-insensitive); the list is ordered by username. */
    prefix: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.string().regex(/^[a-z0-9._@-]{1,64}$/, 'must be the start of a username'))
      .optional(),
  })
  .strict();

/** The username route parameter, validated like the body's (so a bad one is a 404, not a query). */
export function isValidUsername(v: string): boolean {
  return USERNAME_PATTERN.test(v);
}

/** The User resource, as every route answers it. Never holds the password hash. */
export const userSchema = z.object({
  /** Immutable, random, never reused: the `sub` the broker gives applications. */
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  email: z.string().nullable(),
  verifyType: z.union([
    z.object({ kind: z.literal('password') }),
    z.object({ kind: z.literal('integration'), integrationId: z.string(), title: z.string().nullable() }),
  ]),
  hasPassword: z.boolean(),
  roles: z.array(z.string()),
  /** Roles from the user's provisioned Entra groups (`groupRoles`); not changed through this API. */
  groupRoles: z.array(z.string()),
  /**
   * The integration whose Entra provisioning (SCIM) owns this user, or null. Its next request
   * overwrites username, displayName, email and disabled, and sets the binding from externalId.
   */
  provisionedBy: z.string().nullable(),
  disabled: z.boolean(),
  entraBinding: z.object({ tenantId: z.string(), objectId: z.string(), boundAt: z.string() }).nullable(),
  lastLoginAt: z.string().nullable(),
  /** When "sign out everywhere", disabling or another revoking change last ended the user's sessions. */
  sessionsRevokedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  etag: z.string(),
});
export type User = z.output<typeof userSchema>;

export const userListSchema = z.object({ items: z.array(userSchema), nextCursor: z.string().nullable() });
