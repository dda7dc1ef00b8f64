/**
 * Settings for the local stack: `local.settings.json` when present (git-ignored, yours to change),
 * else the committed `local.settings.example.json`. Values already in the environment win.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { repoRoot } from './standins/ca.ts';

const port = z.coerce.number().int().min(1).max(65535);

export const localSchema = z.object({
  LOCAL_HOST_PORT: port,
  LOCAL_AZURITE_TABLE_PORT: port,
  LOCAL_KEYVAULT_PORT: port,
  LOCAL_ENTRA_PORT: port,
  DEMO_ENTRA_TENANT_ID: z.guid(),
  DEMO_ENTRA_DOMAIN: z.string().min(1),
  DEMO_ENTRA_CLIENT_ID: z.guid(),
  DEMO_ENTRA_CLIENT_SECRET: z.string().min(1),
  DEMO_ENTRA_EXPIRED_CLIENT_ID: z.guid(),
  DEMO_ENTRA_EXPIRED_CLIENT_SECRET: z.string().min(1),
});

export type LocalSettings = z.output<typeof localSchema>;

/** Puts the local settings into process.env (without overriding what is set) and returns the dev-only ones. */
export function applyLocalSettings(env: NodeJS.ProcessEnv = process.env): {
  file: string;
  local: LocalSettings;
} {
  const own = path.join(repoRoot, 'local.settings.json');
  const file = existsSync(own) ? own : path.join(repoRoot, 'local.settings.example.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
  for (const [k, v] of Object.entries(parsed.Values ?? {})) {
    if (env[k] === undefined) env[k] = String(v);
  }
  const result = localSchema.safeParse(env);
  if (!result.success) {
    const names = result.error.issues.map((i) => String(i.path[0])).join(', ');
    throw new Error(`${path.basename(file)}: missing or invalid local settings: ${names}`);
  }
  return { file, local: result.data };
}
