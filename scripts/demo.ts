/**
 * Demo data for `npm start`: when the store is empty (no integrations and no users), an active
 * integration on the Entra stand-in, a user assigned to it, an admin password user with a generated
 * password (printed once, stored only as a hash) and a plain password user. Everything goes through
 * the services, audited with actor `demo-seed`. Nothing is seeded when anything exists.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Services } from '../shared/web/services.ts';
import type { LocalSettings } from './local-settings.ts';

export const DEMO_ACTOR = 'demo-seed';
export const DEMO_INTEGRATION_TITLE = 'Demo Entra';

export interface DemoSeed {
  integrationId: string;
  /** Signs in at Entra: type this username on the broker's page, then this account at the stand-in. */
  entraUser: { username: string; account: string };
  admin: { username: string; password: string };
  passwordUser: { username: string; password: string };
}

/** A strong random password (about 128 bits), readable enough to copy from a terminal. */
function generatePassword(): string {
  const raw = randomBytes(16).toString('base64url');
  return `${raw.slice(0, 8)}-${raw.slice(8, 16)}-${raw.slice(16)}`;
}

/** Seeds the demo when the store is empty; undefined when anything already exists. */
export async function seedDemo(
  services: Services,
  local: Pick<
    LocalSettings,
    'DEMO_ENTRA_TENANT_ID' | 'DEMO_ENTRA_DOMAIN' | 'DEMO_ENTRA_CLIENT_ID' | 'DEMO_ENTRA_CLIENT_SECRET'
  >,
): Promise<DemoSeed | undefined> {
  const [integrations, users] = await Promise.all([
    services.integrations.list(),
    services.users.list({ limit: 1 }),
  ]);
  if (integrations.length > 0 || users.items.length > 0) return undefined;

  const ctx = { correlationId: 'demo-seed' };
  const created = await services.integrations.create(
    {
      kind: 'azure-ad',
      title: DEMO_INTEGRATION_TITLE,
      applicationId: local.DEMO_ENTRA_CLIENT_ID,
      tenant: local.DEMO_ENTRA_TENANT_ID,
      clientSecret: local.DEMO_ENTRA_CLIENT_SECRET,
      cloud: 'public',
      matchClaim: 'preferred_username',
    },
    DEMO_ACTOR,
    ctx,
  );
  await services.integrations.activate(created.id, undefined, DEMO_ACTOR, ctx);

  // The stand-in signs account `alice` in as preferred_username alice@<domain>: the user's email.
  const domain = local.DEMO_ENTRA_DOMAIN;
  const entraUser = { username: 'alice', account: 'alice' };
  await services.users.create(
    {
      username: entraUser.username,
      displayName: 'Alice (Entra demo)',
      email: `alice@${domain}`,
      verifyType: { integrationId: created.id },
    },
    { actor: DEMO_ACTOR },
  );
  const admin = { username: 'admin', password: generatePassword() };
  await services.users.create(
    {
      username: admin.username,
      displayName: 'Demo administrator',
      verifyType: 'password',
      password: admin.password,
      roles: ['admin'],
    },
    { actor: DEMO_ACTOR },
  );
  const passwordUser = { username: 'bob', password: generatePassword() };
  await services.users.create(
    {
      username: passwordUser.username,
      displayName: 'Bob (password demo)',
      verifyType: 'password',
      password: passwordUser.password,
    },
    { actor: DEMO_ACTOR },
  );
  return { integrationId: created.id, entraUser, admin, passwordUser };
}

/** The lines `npm start` prints after seeding. */
export function demoInstructions(seed: DemoSeed, brokerUrl: string): string {
  return `Demo data seeded (the store was empty). Sign in at ${brokerUrl}/api/auth/login
  Entra:    username ${seed.entraUser.username} → at the Entra stand-in sign in as ${seed.entraUser.account} with any password
  Password: username ${seed.admin.username}, password ${seed.admin.password}   (admin; shown only now)
            username ${seed.passwordUser.username}, password ${seed.passwordUser.password}   (shown only now)
  IdP-first: ${brokerUrl}/api/auth/login/${seed.integrationId}`;
}

export const DEMO_APP_NAME = 'Demo app';
/** Where `npm run demo-app` listens (the app's own origin, not the broker's): LOCAL_DEMO_APP_PORT. */
export const demoAppOrigin = (port: number): string => `http://localhost:${port}`;
export const DEMO_APP_ORIGIN = demoAppOrigin(7072);

/** What `npm run demo-app` reads from .local/demo-app.json (local development only). */
export interface DemoApplication {
  issuer: string;
  discoveryUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
}

/**
 * Seeds the demo application (a confidential client of the broker's OP, redirect URI
 * `{origin}/callback`, by default http://localhost:7072/callback) when no application exists yet, and writes its client id and
 * secret to `file` (.local/, git-ignored, mode 0600) for the demo app to read: Key Vault keeps the
 * secret; this copy exists only on a developer's machine. Undefined when applications exist.
 */
export async function seedDemoApplication(
  services: Pick<Services, 'applications'>,
  file: string,
  origin = DEMO_APP_ORIGIN,
): Promise<DemoApplication | undefined> {
  if ((await services.applications.list()).length > 0) return undefined;
  const redirectUri = `${origin}/callback`;
  const postLogoutRedirectUri = `${origin}/`;
  const created = await services.applications.create(
    {
      name: DEMO_APP_NAME,
      type: 'confidential',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [postLogoutRedirectUri],
      idTokenSignedResponseAlg: 'RS256',
    },
    DEMO_ACTOR,
    { correlationId: 'demo-seed' },
  );
  const seeded: DemoApplication = {
    issuer: created.issuer,
    discoveryUrl: created.discoveryUrl,
    clientId: created.clientId,
    clientSecret: created.clientSecretValue ?? '',
    redirectUri,
    postLogoutRedirectUri,
  };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(seeded, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return seeded;
}

/** The lines `npm start` prints after seeding the demo application (never the secret). */
export function demoApplicationInstructions(app: DemoApplication, file: string): string {
  return `Demo application seeded: client id ${app.clientId}, redirect URI ${app.redirectUri}
  Its client secret is shown nowhere else: it is in Key Vault and in ${file} (for \`npm run demo-app\`).
  Discovery: ${app.discoveryUrl}`;
}
