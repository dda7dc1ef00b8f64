/**
 * `npm run bootstrap-admin -- --name NAME [--expires-in-days N] [--user USERNAME]`: creates an admin
 * API token directly in the configured Table Storage and prints the token value alone on the last
 * line. With `--user`, it also creates that user as the first console admin (Verify type Password,
 * role admin, a generated password printed once), so the console can do the rest.
 *
 * Locally (no BROKER_TABLE_ENDPOINT in the environment) it uses the local stack's settings and
 * Azurite. Against Azure, export BROKER_PUBLIC_BASE_URL, BROKER_TABLE_ENDPOINT and
 * BROKER_KEY_VAULT_URI (the azd outputs) and sign in with `az login`: DefaultAzureCredential
 * is used, so your account needs "Storage Table Data Contributor" on the storage account.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type CreateTokenInput, createTokenSchema } from '../shared/admin/tokens.ts';
import { loadConfig } from '../shared/core/config.ts';
import { ensureTables } from '../shared/storage/tables.ts';
import { usernameSchema } from '../shared/users/schemas.ts';
import { createServices, type Services } from '../shared/web/services.ts';
import { applyLocalSettings } from './local-settings.ts';

const ACTOR = 'bootstrap-admin';

export interface Bootstrapped {
  token: { id: string; name: string; expiresAt: string; value: string };
  /** The first admin user and its one-time password, when `user` was given. */
  user?: { username: string; password: string };
}

/** The token (and the first admin user), with the audit events an admin's own calls would write. */
export async function bootstrapAdmin(
  services: Services,
  opts: { token: CreateTokenInput; user?: string },
): Promise<Bootstrapped> {
  const created = await services.adminTokens.create(opts.token, ACTOR);
  await services.audit.record({
    type: 'admin.token.created',
    actor: ACTOR,
    target: `token:${created.id}`,
    changedFields: ['name', 'expiresAt'],
    details: { name: created.name, via: ACTOR },
  });
  const out: Bootstrapped = {
    token: { id: created.id, name: created.name, expiresAt: created.expiresAt, value: created.token },
  };
  if (opts.user) {
    // 144 random bits: no policy can refuse it, and the admin can change it in the console.
    const password = randomBytes(18).toString('base64url');
    const user = await services.users.create(
      { username: opts.user, verifyType: 'password', password, roles: ['admin'] },
      { actor: ACTOR },
    );
    out.user = { username: user.username, password };
  }
  return out;
}

async function main() {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      'expires-in-days': { type: 'string' },
      user: { type: 'string' },
    },
    strict: true,
  });
  const usage = 'usage: npm run bootstrap-admin -- --name NAME [--expires-in-days 1-730] [--user USERNAME]';
  const input = createTokenSchema.safeParse({
    name: values.name,
    ...(values['expires-in-days'] ? { expiresInDays: Number(values['expires-in-days']) } : {}),
  });
  if (!input.success) {
    const fields = input.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
    throw new Error(`${usage} (${fields})`);
  }
  const user = values.user === undefined ? undefined : usernameSchema.safeParse(values.user);
  if (user && !user.success) throw new Error(`${usage} (user: ${user.error.issues[0]?.message})`);
  if (!process.env.BROKER_TABLE_ENDPOINT) applyLocalSettings();
  const config = loadConfig();
  const services = createServices(config);
  await ensureTables(services.tables);
  const done = await bootstrapAdmin(services, { token: input.data, ...(user ? { user: user.data } : {}) });
  if (done.user) {
    console.log(
      `Created the admin user "${done.user.username}" with the password ${done.user.password} (shown once).`,
    );
    console.log(`Sign in at ${config.BROKER_PUBLIC_BASE_URL}/api/admin and change it under Users.`);
  }
  const t = done.token;
  console.log(`Created admin token "${t.name}" (id ${t.id}), expires ${t.expiresAt}.`);
  console.log('It is shown once; store it safely. Use it as: Authorization: Bearer <token>');
  console.log(t.value);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(`bootstrap-admin failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
