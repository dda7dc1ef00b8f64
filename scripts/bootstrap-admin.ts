/**
 * `npm run bootstrap-admin -- --name NAME [--expires-in-days N]`: creates an admin API token
 * directly in the configured Table Storage and prints the token value alone on the last line.
 *
 * Locally (no BROKER_TABLE_ENDPOINT in the environment) it uses the local stack's settings and
 * Azurite. Against Azure, export BROKER_PUBLIC_BASE_URL, BROKER_TABLE_ENDPOINT and
 * BROKER_KEY_VAULT_URI (the azd outputs) and sign in with `az login`: DefaultAzureCredential
 * is used, so your account needs "Storage Table Data Contributor" on the storage account.
 */
import { parseArgs } from 'node:util';
import { createTokenSchema } from '../shared/admin/tokens.ts';
import { loadConfig } from '../shared/core/config.ts';
import { ensureTables } from '../shared/storage/tables.ts';
import { createServices } from '../shared/web/services.ts';
import { applyLocalSettings } from './local-settings.ts';

async function main() {
  const { values } = parseArgs({
    options: { name: { type: 'string' }, 'expires-in-days': { type: 'string' } },
    strict: true,
  });
  const input = createTokenSchema.safeParse({
    name: values.name,
    ...(values['expires-in-days'] ? { expiresInDays: Number(values['expires-in-days']) } : {}),
  });
  if (!input.success) {
    const fields = input.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
    throw new Error(`usage: npm run bootstrap-admin -- --name NAME [--expires-in-days 1-730] (${fields})`);
  }
  if (!process.env.BROKER_TABLE_ENDPOINT) applyLocalSettings();
  const config = loadConfig();
  const services = createServices(config);
  await ensureTables(services.tables);
  const created = await services.adminTokens.create(input.data, 'bootstrap-admin');
  await services.audit.record({
    type: 'admin.token.created',
    actor: 'bootstrap-admin',
    target: `token:${created.id}`,
    changedFields: ['name', 'expiresAt'],
    details: { name: created.name, via: 'bootstrap-admin' },
  });
  console.log(`Created admin token "${created.name}" (id ${created.id}), expires ${created.expiresAt}.`);
  console.log('It is shown once; store it safely. Use it as: Authorization: Bearer <token>');
  console.log(created.token);
}

main().catch((err) => {
  console.error(`bootstrap-admin failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
