/**
 * Demo data for `npm start`: when the store is empty (no integrations and no users), an active
 * integration on the Entra stand-in that authenticates with a federated credential (the broker as
 * issuer; no client secret), a user assigned to it, an admin password user with a generated
 * password (printed once, stored only as a hash) and a plain password user. Everything goes through
 * the services, audited with actor `demo-seed`. Nothing is seeded when anything exists.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Integration } from '../shared/integrations/schemas.ts';
import type { Services } from '../shared/web/services.ts';
import type { LocalSettings } from './local-settings.ts';
import { DEMO_GRAPH_ADMIN } from './standins/entra.ts';

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

/**
 * Registers the integration's federated credential on its app registration at the Entra stand-in,
 * the way an admin's tooling does it in Entra: a Graph token by client credentials, then
 * `POST /v1.0/applications(appId='…')/federatedIdentityCredentials`. The stand-in keeps its
 * registrations in memory, so `npm start` does this on every start; an existing one answers 409.
 */
export async function registerDemoFederatedCredential(
  entraHost: string,
  tenantId: string,
  integration: Integration,
) {
  const values = integration.credential.federated;
  if (!values) return;
  const tokenRes = await fetch(`${entraHost}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: DEMO_GRAPH_ADMIN.clientId,
      client_secret: DEMO_GRAPH_ADMIN.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  const token = ((await tokenRes.json()) as { access_token?: string }).access_token;
  if (!token) throw new Error(`the Entra stand-in issued no Graph token (${tokenRes.status})`);
  const res = await fetch(
    `${entraHost}/v1.0/applications(appId='${integration.applicationId}')/federatedIdentityCredentials`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `broker-${integration.id.slice(0, 8)}`,
        issuer: values.issuer,
        subject: values.subject,
        audiences: [values.audience],
        description: 'The identity broker (seeded by npm start)',
      }),
    },
  );
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`the Entra stand-in refused the federated credential (${res.status})`);
}

/** Seeds the demo when the store is empty; undefined when anything already exists. */
export async function seedDemo(
  services: Services,
  local: Pick<
    LocalSettings,
    'DEMO_ENTRA_TENANT_ID' | 'DEMO_ENTRA_DOMAIN' | 'DEMO_ENTRA_CLIENT_ID' | 'DEMO_ENTRA_CLIENT_SECRET'
  >,
  entraHost: string,
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
      credential: { kind: 'federated' },
      cloud: 'public',
      matchClaim: 'preferred_username',
    },
    DEMO_ACTOR,
    ctx,
  );
  await registerDemoFederatedCredential(entraHost, local.DEMO_ENTRA_TENANT_ID, created);
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
