import { z } from 'zod';

/**
 * Every setting the broker reads, validated once at start-up (the t3-env way).
 * Names are the app-setting names: infra/main.bicep sets each required one, and
 * local.settings.example.json holds a working local value for each.
 */

const isLoopbackHost = (host: string) => host === 'localhost' || host === '127.0.0.1' || host === '[::1]';

const httpsOrLoopbackUrl = z.url({ protocol: /^https?$/ }).refine(
  (v) => {
    const u = new URL(v);
    return u.protocol === 'https:' || isLoopbackHost(u.hostname);
  },
  { message: 'must be an https URL (http is accepted for localhost only)' },
);

const httpsUrl = z.url({ protocol: /^https$/, message: 'must be an https URL' });

const booleanString = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');

export const configSchema = z
  .object({
    /** Public base URL of the Function App, e.g. https://func-broker-abc.azurewebsites.net. The Entra redirect URI is built from it. */
    BROKER_PUBLIC_BASE_URL: httpsOrLoopbackUrl.transform((v) => v.replace(/\/+$/, '')),
    /** Table Storage endpoint, e.g. https://stbroker.table.core.windows.net (Azurite: http://127.0.0.1:10002/devstoreaccount1). */
    BROKER_TABLE_ENDPOINT: httpsOrLoopbackUrl.transform((v) => v.replace(/\/+$/, '')),
    /** Key Vault URI, e.g. https://kv-broker-abc.vault.azure.net. */
    BROKER_KEY_VAULT_URI: httpsUrl.transform((v) => v.replace(/\/+$/, '')),
    /** Client id of the user-assigned managed identity the app authenticates with (unset: DefaultAzureCredential). */
    AZURE_CLIENT_ID: z.guid().optional(),
    /** Local stack only: Azurite's well-known account key for tables and a static token for the Key Vault stand-in. */
    BROKER_DEV_CREDENTIALS: booleanString,
    /** Local stack only: authority host that replaces login.microsoftonline.com for the public cloud (the Entra stand-in). */
    BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: httpsUrl.transform((v) => v.replace(/\/+$/, '')).optional(),
    /** Product name shown on the sign-in pages. */
    BROKER_PRODUCT_NAME: z.string().min(1).max(80).optional().default('Identity Broker'),
    /**
     * Milliseconds one Table Storage / Key Vault attempt may take before it counts as a failure (503).
     * Default 2000; 10000 with BROKER_DEV_CREDENTIALS (Azurite on a busy developer machine is slow).
     */
    BROKER_DEPENDENCY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.BROKER_DEV_CREDENTIALS) return;
    for (const key of ['BROKER_TABLE_ENDPOINT', 'BROKER_KEY_VAULT_URI'] as const) {
      if (!isLoopbackHost(new URL(c[key]).hostname)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'BROKER_DEV_CREDENTIALS is only allowed when every endpoint is on localhost',
        });
      }
    }
  });

export type Config = z.output<typeof configSchema>;

/** The names of the settings a deployment must set (no default, not optional). */
export function requiredSettingNames(): string[] {
  return Object.entries(configSchema.shape)
    .filter(([, schema]) => !(schema as z.ZodType).safeParse(undefined).success)
    .map(([name]) => name)
    .sort();
}

export class ConfigError extends Error {
  constructor(readonly problems: { setting: string; message: string }[]) {
    super(
      `Invalid configuration: ${problems.map((p) => `${p.setting} ${p.message}`).join('; ')}. ` +
        'See README.md ("Settings") and local.settings.example.json.',
    );
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const setting = String(issue.path[0] ?? 'configuration');
    const missing = env[setting] === undefined || env[setting] === '';
    return { setting, message: missing ? 'is missing' : `is invalid: ${issue.message}` };
  });
  throw new ConfigError(problems);
}
