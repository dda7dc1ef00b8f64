/**
 * Settings for the local stack: `local.settings.json` when present (git-ignored, yours to change),
 * else the committed `local.settings.example.json`. Values already in the environment win.
 *
 * Locally the URLs follow the ports: each of the four dependency URLs is built from its LOCAL_*_PORT
 * unless it is set explicitly, i.e. in the environment, or in the file to anything other than the
 * example's default (the example file names them, with the default ports, for `func start`).
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
  LOCAL_DEMO_APP_PORT: port.default(7072),
  DEMO_ENTRA_TENANT_ID: z.guid(),
  DEMO_ENTRA_DOMAIN: z.string().min(1),
  DEMO_ENTRA_CLIENT_ID: z.guid(),
  DEMO_ENTRA_CLIENT_SECRET: z.string().min(1),
  DEMO_ENTRA_EXPIRED_CLIENT_ID: z.guid(),
  DEMO_ENTRA_EXPIRED_CLIENT_SECRET: z.string().min(1),
});

export type LocalSettings = z.output<typeof localSchema>;

/** The local ports, each with the setting that moves it (for messages such as "port in use"). */
export const PORT_SETTINGS = [
  'LOCAL_HOST_PORT',
  'LOCAL_AZURITE_TABLE_PORT',
  'LOCAL_KEYVAULT_PORT',
  'LOCAL_ENTRA_PORT',
  'LOCAL_DEMO_APP_PORT',
] as const;
export type PortSetting = (typeof PORT_SETTINGS)[number];

/** The URL settings that follow a port locally, and how each is built from it. */
export const URL_FROM_PORT = {
  BROKER_PUBLIC_BASE_URL: { port: 'LOCAL_HOST_PORT', url: (p: number) => `http://localhost:${p}` },
  BROKER_TABLE_ENDPOINT: {
    port: 'LOCAL_AZURITE_TABLE_PORT',
    url: (p: number) => `http://127.0.0.1:${p}/devstoreaccount1`,
  },
  BROKER_KEY_VAULT_URI: { port: 'LOCAL_KEYVAULT_PORT', url: (p: number) => `https://localhost:${p}` },
  BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: {
    port: 'LOCAL_ENTRA_PORT',
    url: (p: number) => `https://localhost:${p}`,
  },
} as const satisfies Record<string, { port: PortSetting; url: (p: number) => string }>;
export type UrlSetting = keyof typeof URL_FROM_PORT;

/** The default ports (the example file's), against which a URL in a settings file counts as "not set". */
const EXAMPLE_PORTS: Record<PortSetting, number> = {
  LOCAL_HOST_PORT: 7071,
  LOCAL_AZURITE_TABLE_PORT: 10002,
  LOCAL_KEYVAULT_PORT: 7444,
  LOCAL_ENTRA_PORT: 7443,
  LOCAL_DEMO_APP_PORT: 7072,
};

export interface AppliedLocalSettings {
  file: string;
  local: LocalSettings;
  /** Where each URL setting's value came from: built from its port, or set explicitly. */
  urlSources: Record<UrlSetting, 'port' | 'explicit'>;
}

/** Puts the local settings into process.env (without overriding what is set) and returns the dev-only ones. */
export function applyLocalSettings(env: NodeJS.ProcessEnv = process.env): AppliedLocalSettings {
  const own = path.join(repoRoot, 'local.settings.json');
  const file = existsSync(own) ? own : path.join(repoRoot, 'local.settings.example.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
  const values = parsed.Values ?? {};
  const explicit = new Set<string>();
  for (const name of Object.keys(URL_FROM_PORT) as UrlSetting[]) {
    const inFile = values[name];
    const { port: portName, url } = URL_FROM_PORT[name];
    if (env[name] !== undefined || (inFile !== undefined && inFile !== url(EXAMPLE_PORTS[portName])))
      explicit.add(name);
  }
  for (const [k, v] of Object.entries(values)) {
    if (k in URL_FROM_PORT && !explicit.has(k)) continue;
    if (env[k] === undefined) env[k] = String(v);
  }
  const result = localSchema.safeParse(env);
  if (!result.success) {
    const names = result.error.issues.map((i) => String(i.path[0])).join(', ');
    throw new Error(`${path.basename(file)}: missing or invalid local settings: ${names}`);
  }
  const local = result.data;
  const urlSources = {} as Record<UrlSetting, 'port' | 'explicit'>;
  for (const name of Object.keys(URL_FROM_PORT) as UrlSetting[]) {
    if (explicit.has(name)) urlSources[name] = 'explicit';
    else {
      const { port: portName, url } = URL_FROM_PORT[name];
      env[name] = url(local[portName]);
      urlSources[name] = 'port';
    }
  }
  return { file, local, urlSources };
}
