/**
 * The Entra stand-in's app registrations as Microsoft Graph sees them: object id, display name,
 * federated identity credentials and certificate (key) credentials. The token endpoint reads them
 * to check client assertions; the Graph routes change them.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';

/** The only audience Entra accepts on a federated identity credential in the public cloud. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

/** Entra's limit of federated identity credentials per application. */
export const MAX_FEDERATED_CREDENTIALS = 20;

export interface FederatedCredentialInput {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  description?: string;
}

export interface FederatedCredential extends FederatedCredentialInput {
  id: string;
}

export interface CertificateCredential {
  keyId: string;
  type: 'AsymmetricX509Cert';
  usage: 'Verify';
  /** Base64 DER, as uploaded. */
  key: string;
  displayName: string;
  /** Graph returns it base64; by default the certificate's SHA-1 thumbprint (hex, upper case). */
  customKeyIdentifier: string;
  startDateTime: string;
  endDateTime: string;
  /** Hex thumbprints the token endpoint looks a signing certificate up by (x5t, x5t#S256). */
  sha1: string;
  sha256: string;
  certificate: X509Certificate;
}

export interface AppRegistration {
  tenantId: string;
  /** Application (client) id. */
  appId: string;
  /** Object id of the application object. */
  id: string;
  displayName: string;
  federated: FederatedCredential[];
  certificates: CertificateCredential[];
}

/** A change Graph refuses: its status, error code and message. */
export class GraphRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new GraphRequestError(400, 'Request_BadRequest', message);

/** A stable UUID-shaped id for `seed` (the same seed always gives the same id). */
export function stableGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((Number.parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

/**
 * Entra takes any https issuer. The stand-in also takes http on loopback only, so a broker running
 * on http://localhost can be trusted locally; Entra itself could never reach such an issuer.
 */
export function issuerAllowed(issuer: string): boolean {
  const url = URL.parse(issuer);
  if (!url || url.search || url.hash || url.username || url.password) return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
}

function checkFederatedInput(input: unknown): FederatedCredentialInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('The request body must be a federatedIdentityCredential object.');
  }
  const body = input as Record<string, unknown>;
  const str = (key: string, max: number) => {
    const value = body[key];
    if (typeof value !== 'string' || value.trim() === '') {
      throw badRequest(`Property '${key}' is required and must be a non-empty string.`);
    }
    if (value.length > max) throw badRequest(`Property '${key}' must be at most ${max} characters.`);
    return value;
  };
  const name = str('name', 120);
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) {
    throw badRequest(
      "Property 'name' may contain only letters, digits, hyphens and underscores, starting with a letter or digit.",
    );
  }
  const issuer = str('issuer', 600);
  if (!issuerAllowed(issuer)) {
    throw badRequest(`Invalid issuer '${issuer}': the issuer must be a valid https URL.`);
  }
  const subject = str('subject', 600);
  const audiences = body.audiences;
  if (!Array.isArray(audiences) || audiences.length !== 1 || typeof audiences[0] !== 'string') {
    throw badRequest("Property 'audiences' must contain exactly one value.");
  }
  if (audiences[0] !== TOKEN_EXCHANGE_AUDIENCE) {
    throw badRequest(`Property 'audiences' must be '${TOKEN_EXCHANGE_AUDIENCE}'.`);
  }
  const description = body.description;
  if (description !== undefined && description !== null && typeof description !== 'string') {
    throw badRequest("Property 'description' must be a string.");
  }
  return {
    name,
    issuer,
    subject,
    audiences: [audiences[0]],
    ...(typeof description === 'string' ? { description } : {}),
  };
}

function certificateFrom(entry: unknown, existing: CertificateCredential[]): CertificateCredential {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw badRequest('Each keyCredential must be an object.');
  }
  const e = entry as Record<string, unknown>;
  // An entry naming an existing keyId without a key keeps that credential (Graph replaces the whole list).
  if (typeof e.keyId === 'string' && (e.key === undefined || e.key === null)) {
    const kept = existing.find((c) => c.keyId === e.keyId);
    if (!kept) throw badRequest(`Key credential '${e.keyId}' does not exist.`);
    return kept;
  }
  if (e.type !== 'AsymmetricX509Cert') {
    throw badRequest("Invalid value specified for property 'type' of resource 'KeyCredential'.");
  }
  if (e.usage !== 'Verify') {
    throw badRequest("Invalid value specified for property 'usage' of resource 'KeyCredential'.");
  }
  if (typeof e.key !== 'string' || !/^[A-Za-z0-9+/=\s]+$/.test(e.key)) {
    throw badRequest("Invalid value specified for property 'key' of resource 'KeyCredential'.");
  }
  const der = Buffer.from(e.key, 'base64');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch {
    throw badRequest("Invalid value specified for property 'key' of resource 'KeyCredential'.");
  }
  if (certificate.publicKey.asymmetricKeyType !== 'rsa') {
    throw badRequest('Key credential must hold an RSA public key.');
  }
  const raw = certificate.raw;
  const sha1 = createHash('sha1').update(raw).digest('hex').toUpperCase();
  const sha256 = createHash('sha256').update(raw).digest('hex').toUpperCase();
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  const start = new Date(certificate.validFrom);
  const end = new Date(certificate.validTo);
  const startDateTime = typeof e.startDateTime === 'string' ? e.startDateTime : start.toISOString();
  const endDateTime = typeof e.endDateTime === 'string' ? e.endDateTime : end.toISOString();
  if (Date.parse(endDateTime) > end.getTime() || Date.parse(startDateTime) < start.getTime()) {
    throw badRequest("Key credential end date is invalid: it must be within the certificate's validity.");
  }
  return {
    keyId: typeof e.keyId === 'string' ? e.keyId : randomUUID(),
    type: 'AsymmetricX509Cert',
    usage: 'Verify',
    key: raw.toString('base64'),
    displayName: typeof e.displayName === 'string' ? e.displayName : cn ? `CN=${cn}` : certificate.subject,
    customKeyIdentifier: typeof e.customKeyIdentifier === 'string' ? e.customKeyIdentifier : sha1,
    startDateTime,
    endDateTime,
    sha1,
    sha256,
    certificate,
  };
}

export interface AppRegistry {
  find(appId: string): AppRegistration | undefined;
  findByObjectId(id: string): AppRegistration | undefined;
  addFederated(app: AppRegistration, input: unknown): FederatedCredential;
  removeFederated(app: AppRegistration, idOrName: string): boolean;
  /** Replaces the app's keyCredentials as Graph's PATCH does. */
  setKeyCredentials(app: AppRegistration, entries: unknown): void;
}

export interface RegisteredApp {
  tenantId: string;
  clientId: string;
  displayName?: string;
  federatedCredentials?: FederatedCredentialInput[];
}

export function createAppRegistry(apps: RegisteredApp[]): AppRegistry {
  const byAppId = new Map<string, AppRegistration>();
  const byObjectId = new Map<string, AppRegistration>();
  const registry: AppRegistry = {
    find: (appId) => byAppId.get(appId.toLowerCase()),
    findByObjectId: (id) => byObjectId.get(id.toLowerCase()),
    addFederated(app, input) {
      const fic = checkFederatedInput(input);
      if (app.federated.length >= MAX_FEDERATED_CREDENTIALS) {
        throw badRequest(
          `The application already has ${MAX_FEDERATED_CREDENTIALS} federated identity credentials, the most allowed.`,
        );
      }
      if (app.federated.some((f) => f.name === fic.name)) {
        throw new GraphRequestError(
          409,
          'Request_MultipleObjectsWithSameKeyValue',
          `FederatedIdentityCredential with name ${fic.name} already exists.`,
        );
      }
      if (app.federated.some((f) => f.issuer === fic.issuer && f.subject === fic.subject)) {
        throw new GraphRequestError(
          409,
          'Request_MultipleObjectsWithSameKeyValue',
          `FederatedIdentityCredential with issuer ${fic.issuer} and subject ${fic.subject} already exists.`,
        );
      }
      const created: FederatedCredential = { id: randomUUID(), ...fic };
      app.federated.push(created);
      return created;
    },
    removeFederated(app, idOrName) {
      const before = app.federated.length;
      app.federated = app.federated.filter((f) => f.id !== idOrName && f.name !== idOrName);
      return app.federated.length !== before;
    },
    setKeyCredentials(app, entries) {
      if (!Array.isArray(entries)) throw badRequest("Property 'keyCredentials' must be an array.");
      const next = entries.map((e) => certificateFrom(e, app.certificates));
      if (new Set(next.map((c) => c.keyId)).size !== next.length) {
        throw badRequest('Key credentials must have distinct keyIds.');
      }
      app.certificates = next;
    },
  };
  for (const a of apps) {
    const reg: AppRegistration = {
      tenantId: a.tenantId,
      appId: a.clientId,
      id: stableGuid(`application:${a.tenantId.toLowerCase()}:${a.clientId.toLowerCase()}`),
      displayName: a.displayName ?? `App ${a.clientId.slice(0, 8)}`,
      federated: [],
      certificates: [],
    };
    byAppId.set(a.clientId.toLowerCase(), reg);
    byObjectId.set(reg.id, reg);
    for (const f of a.federatedCredentials ?? []) registry.addFederated(reg, f);
  }
  return registry;
}
