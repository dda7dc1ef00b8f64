/**
 * Local Azure Key Vault stand-in (secrets and keys), for dev and tests.
 *
 * Speaks enough of the Key Vault REST API over HTTPS for the real `@azure/keyvault-secrets`
 * SecretClient: the bearer challenge, versions, properties, paging with nextLink, soft delete,
 * recover and purge (optionally refused by purge protection), and Key Vault-shaped errors; and for
 * `@azure/keyvault-keys` KeyClient and CryptographyClient: RSA signing keys (keyvault-keys.ts).
 * State is in memory per instance. Tokens are never validated: any non-empty bearer token passes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { serverCertificate } from './ca.ts';
import {
  applyAttributes,
  badParameter,
  checkName,
  errorReply,
  isRecord,
  KeyVaultError,
  nowSeconds,
  page as pageOf,
  parseAttributes,
  parseTags,
  type Reply,
  type VersionAttributes,
} from './keyvault-common.ts';
import { createKeyStore, type StoredKey } from './keyvault-keys.ts';

export interface KeyVaultStandInOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; 127.0.0.1 by default. The url always says `localhost`. */
  host?: string;
  /** When true, purge is refused (403) and secrets report recoveryLevel "Recoverable". */
  purgeProtection?: boolean;
  /** Soft-delete retention in days (default 90). Deleted secrets are purged lazily once it passes. */
  retentionDays?: number;
  /** Keep the vault's state in this JSON file across restarts (`npm start`); in memory when unset. */
  stateFile?: string;
}

export interface FailNextOptions {
  /** HTTP status to answer with (default 503). */
  status?: number;
  /** Only requests with one of these methods count (default: any). */
  methods?: string[];
  /** Only requests whose path starts with this count (default: any), e.g. `/secrets/`. */
  pathPrefix?: string;
  /** Error code in the body (default derived from the status, e.g. ServiceUnavailable). */
  code?: string;
  /** Adds a Retry-After header with this many seconds (Key Vault sends one with 429). */
  retryAfterSeconds?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/secrets/foo/`. */
  path: string;
  status: number;
}

export interface KeyVaultStandIn {
  /** `https://localhost:PORT` (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Every request received, in order of response. */
  requests: RecordedRequest[];
  resetRequests(): void;
  /** The next n authenticated requests matching opts answer with an error (default 503). */
  failNext(n: number, opts?: FailNextOptions): void;
  /** While down, every request (even unauthenticated) gets 503. */
  setDown(down: boolean): void;
}

/** Tenant named in the challenge (a fixed made-up GUID; the stand-in does not check tokens). */
export const KEY_VAULT_STANDIN_TENANT_ID = '8d3b6c1e-2f4a-4b7c-9e5d-0a1b2c3d4e5f';

const MAX_BODY_BYTES = 256 * 1024;
const NOT_FOUND_HELP =
  'If you recently deleted this secret you may be able to recover it using the correct recovery command. ' +
  'For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182';

interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  attributes: VersionAttributes;
}

interface StoredSecret {
  /** Name as first created (Key Vault names are case-insensitive but keep their case). */
  name: string;
  versions: SecretVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

const DEFAULT_CODES: Record<number, string> = {
  400: 'BadParameter',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  408: 'RequestTimeout',
  409: 'Conflict',
  429: 'Throttled',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

function secretNotFound(name: string, version?: string): KeyVaultError {
  const id = version ? `${name}/${version}` : name;
  return new KeyVaultError(
    404,
    'SecretNotFound',
    `A secret with (name/id) ${id} was not found in this key vault. ${NOT_FOUND_HELP}`,
  );
}

function deletedSecretNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
}

/** Reads the body, draining (not storing) anything past the limit. */
function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startKeyVaultStandIn(opts: KeyVaultStandInOptions = {}): Promise<KeyVaultStandIn> {
  const purgeProtection = opts.purgeProtection ?? false;
  const retentionDays = opts.retentionDays ?? 90;
  const customized = retentionDays !== 90 ? 'Customized' : '';
  const recoveryLevel = purgeProtection ? `${customized}Recoverable` : `${customized}Recoverable+Purgeable`;

  // The state file holds `{ secrets, keys }`; a bare array is an older file with secrets only.
  const saved = (
    opts.stateFile && existsSync(opts.stateFile) ? JSON.parse(readFileSync(opts.stateFile, 'utf8')) : []
  ) as [string, StoredSecret][] | { secrets: [string, StoredSecret][]; keys: [string, StoredKey][] };
  const secrets = new Map<string, StoredSecret>(Array.isArray(saved) ? saved : saved.secrets);
  const keyStore = createKeyStore({
    baseUrl: () => baseUrl,
    recoveryLevel,
    retentionDays,
    purgeProtection,
    initial: Array.isArray(saved) ? [] : saved.keys,
  });
  const persist = () => {
    if (!opts.stateFile) return;
    mkdirSync(dirname(opts.stateFile), { recursive: true });
    const state = { secrets: [...secrets], keys: keyStore.entries() };
    writeFileSync(`${opts.stateFile}.tmp`, JSON.stringify(state), { mode: 0o600 });
    renameSync(`${opts.stateFile}.tmp`, opts.stateFile);
  };
  const requests: RecordedRequest[] = [];
  let failRules: (Required<Pick<FailNextOptions, 'status'>> & FailNextOptions & { remaining: number })[] = [];
  let down = false;
  let baseUrl = '';

  // --- shapes -------------------------------------------------------------------------------------

  const attributesOut = (a: VersionAttributes) => ({
    enabled: a.enabled,
    ...(a.nbf !== undefined ? { nbf: a.nbf } : {}),
    ...(a.exp !== undefined ? { exp: a.exp } : {}),
    created: a.created,
    updated: a.updated,
    recoveryLevel,
    recoverableDays: retentionDays,
  });

  const latest = (s: StoredSecret) => s.versions[s.versions.length - 1]!;
  const secretId = (s: StoredSecret, v?: SecretVersion) =>
    `${baseUrl}/secrets/${s.name}${v ? `/${v.version}` : ''}`;

  /** SecretBundle; the value only when asked for. */
  const bundle = (s: StoredSecret, v: SecretVersion, withValue: boolean) => ({
    ...(withValue ? { value: v.value } : {}),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    id: secretId(s, v),
    attributes: attributesOut(v.attributes),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
  });

  /** SecretItem (list entry): no value; the id has a version only in version lists. */
  const item = (s: StoredSecret, v: SecretVersion, withVersion: boolean) => ({
    id: secretId(s, withVersion ? v : undefined),
    attributes: attributesOut(v.attributes),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
  });

  const deletedFields = (s: StoredSecret) => ({
    recoveryId: `${baseUrl}/deletedsecrets/${s.name}`,
    deletedDate: s.deleted!.deletedDate,
    scheduledPurgeDate: s.deleted!.scheduledPurgeDate,
  });

  // --- state helpers ------------------------------------------------------------------------------

  /** Purges soft-deleted secrets whose retention has passed (what Key Vault does on its own). */
  const sweep = () => {
    const now = nowSeconds();
    for (const [key, s] of secrets) if (s.deleted && s.deleted.scheduledPurgeDate <= now) secrets.delete(key);
  };

  const live = (name: string): StoredSecret => {
    const s = secrets.get(name.toLowerCase());
    if (!s || s.deleted) throw secretNotFound(name);
    return s;
  };

  const deleted = (name: string): StoredSecret => {
    const s = secrets.get(name.toLowerCase());
    if (!s?.deleted) throw deletedSecretNotFound(name);
    return s;
  };

  const findVersion = (s: StoredSecret, name: string, version: string): SecretVersion => {
    if (version === '') return latest(s);
    const v = s.versions.find((x) => x.version === version.toLowerCase());
    if (!v) throw secretNotFound(name, version);
    return v;
  };

  // --- paging -------------------------------------------------------------------------------------
  const sortedSecrets = (wantDeleted: boolean) =>
    [...secrets.entries()]
      .filter(([, s]) => Boolean(s.deleted) === wantDeleted)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  // --- operations ---------------------------------------------------------------------------------

  const setSecret = (name: string, body: unknown): Reply => {
    if (!isRecord(body)) throw badParameter('The request body must be a JSON object.');
    if (typeof body.value !== 'string')
      throw badParameter('Property value is required and must be a string.');
    if (body.contentType !== undefined && body.contentType !== null && typeof body.contentType !== 'string') {
      throw badParameter('Property contentType must be a string.');
    }
    const tags = parseTags(body.tags);
    const changes = parseAttributes(body.attributes);
    const key = name.toLowerCase();
    let s = secrets.get(key);
    if (s?.deleted) {
      throw new KeyVaultError(
        409,
        'Conflict',
        `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; ` +
          'in this state, the secret can only be recovered or purged.',
        'ObjectIsDeletedButRecoverable',
      );
    }
    if (!s) {
      s = { name, versions: [] };
      secrets.set(key, s);
    }
    const now = nowSeconds();
    const attributes: VersionAttributes = { enabled: true, created: now, updated: now };
    applyAttributes(attributes, changes);
    const v: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value: body.value,
      ...(typeof body.contentType === 'string' ? { contentType: body.contentType } : {}),
      ...(tags ? { tags } : {}),
      attributes,
    };
    s.versions.push(v);
    return { status: 200, body: bundle(s, v, true) };
  };

  const getSecret = (name: string, version: string): Reply => {
    const s = live(name);
    const v = findVersion(s, name, version);
    if (!v.attributes.enabled) {
      throw new KeyVaultError(
        403,
        'Forbidden',
        'Operation get is not allowed on a disabled secret.',
        'SecretDisabled',
      );
    }
    return { status: 200, body: bundle(s, v, true) };
  };

  const updateSecret = (name: string, version: string, body: unknown): Reply => {
    if (!isRecord(body)) throw badParameter('The request body must be a JSON object.');
    const s = live(name);
    const v = findVersion(s, name, version);
    if (body.contentType !== undefined && body.contentType !== null && typeof body.contentType !== 'string') {
      throw badParameter('Property contentType must be a string.');
    }
    const tags = body.tags === undefined ? undefined : parseTags(body.tags);
    const changes = parseAttributes(body.attributes);
    if (typeof body.contentType === 'string') v.contentType = body.contentType;
    else if (body.contentType === null) delete v.contentType;
    if (body.tags !== undefined) {
      if (tags) v.tags = tags;
      else delete v.tags;
    }
    applyAttributes(v.attributes, changes);
    v.attributes.updated = nowSeconds();
    return { status: 200, body: bundle(s, v, false) };
  };

  const deleteSecret = (name: string): Reply => {
    const s = live(name);
    const now = nowSeconds();
    s.deleted = { deletedDate: now, scheduledPurgeDate: now + retentionDays * 86400 };
    return { status: 200, body: { ...deletedFields(s), ...bundle(s, latest(s), false) } };
  };

  const listSecrets = (query: URLSearchParams): Reply => ({
    status: 200,
    body: pageOf(
      baseUrl,
      sortedSecrets(false).map(([key, s]) => ({ key, value: item(s, latest(s), false) })),
      '/secrets',
      query,
    ),
  });

  const listVersions = (name: string, query: URLSearchParams): Reply => {
    const s = live(name);
    const entries = s.versions.map((v, i) => ({ key: String(i).padStart(8, '0'), value: item(s, v, true) }));
    return { status: 200, body: pageOf(baseUrl, entries, `/secrets/${s.name}/versions`, query) };
  };

  const getDeleted = (name: string): Reply => {
    const s = deleted(name);
    return { status: 200, body: { ...deletedFields(s), ...bundle(s, latest(s), false) } };
  };

  const listDeleted = (query: URLSearchParams): Reply => ({
    status: 200,
    body: pageOf(
      baseUrl,
      sortedSecrets(true).map(([key, s]) => ({
        key,
        value: { ...deletedFields(s), ...item(s, latest(s), false) },
      })),
      '/deletedsecrets',
      query,
    ),
  });

  const purge = (name: string): Reply => {
    const s = deleted(name);
    if (purgeProtection) {
      throw new KeyVaultError(
        403,
        'Forbidden',
        'Operation "purge" is not allowed because purge protection is enabled for this vault. ' +
          'Key Vault service will automatically purge it after the retention period has passed.',
      );
    }
    secrets.delete(s.name.toLowerCase());
    return { status: 204 };
  };

  const recover = (name: string): Reply => {
    const s = deleted(name);
    delete s.deleted;
    return { status: 200, body: bundle(s, latest(s), false) };
  };

  // --- routing ------------------------------------------------------------------------------------

  const route = (method: string, segments: string[], query: URLSearchParams, body: () => unknown): Reply => {
    const keyReply = keyStore.route(method, segments, query, body);
    if (keyReply) return keyReply;
    const [collection, rawName, sub, ...extra] = segments;
    if (extra.length > 0) return errorReply(404, 'NotFound', 'The requested resource was not found.');
    const notAllowed = () => errorReply(405, 'MethodNotAllowed', `The method ${method} is not allowed here.`);

    if (collection === 'secrets') {
      if (rawName === undefined || (rawName === '' && sub === undefined)) {
        return method === 'GET' ? listSecrets(query) : notAllowed();
      }
      const name = checkName(rawName);
      if (sub === undefined) {
        if (method === 'PUT') return setSecret(name, body());
        if (method === 'GET') return getSecret(name, '');
        if (method === 'DELETE') return deleteSecret(name);
        if (method === 'PATCH') return updateSecret(name, '', body());
        return notAllowed();
      }
      if (sub === 'versions' && method === 'GET') return listVersions(name, query);
      if (sub !== '' && !/^[0-9a-zA-Z]{1,64}$/.test(sub)) throw secretNotFound(name, sub);
      if (method === 'GET') return getSecret(name, sub);
      if (method === 'PATCH') return updateSecret(name, sub, body());
      return notAllowed();
    }

    if (collection === 'deletedsecrets') {
      if (rawName === undefined || (rawName === '' && sub === undefined)) {
        return method === 'GET' ? listDeleted(query) : notAllowed();
      }
      const name = checkName(rawName);
      if (sub === undefined) {
        if (method === 'GET') return getDeleted(name);
        if (method === 'DELETE') return purge(name);
        return notAllowed();
      }
      if (sub === 'recover') return method === 'POST' ? recover(name) : notAllowed();
    }

    return errorReply(404, 'NotFound', 'The requested resource was not found.');
  };

  const takeFailure = (method: string, path: string) => {
    const rule = failRules.find(
      (r) =>
        r.remaining > 0 &&
        (!r.methods || r.methods.some((m) => m.toUpperCase() === method)) &&
        (!r.pathPrefix || path.startsWith(r.pathPrefix)),
    );
    if (!rule) return undefined;
    rule.remaining -= 1;
    failRules = failRules.filter((r) => r.remaining > 0);
    return rule;
  };

  const handle = async (req: IncomingMessage): Promise<Reply> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (down) {
      await readBody(req);
      return errorReply(
        503,
        'ServiceUnavailable',
        'The service is temporarily unavailable (stand-in is down).',
      );
    }
    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(auth)) {
      await readBody(req);
      return {
        ...errorReply(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.'),
        headers: {
          'www-authenticate':
            `Bearer authorization="https://login.microsoftonline.com/${KEY_VAULT_STANDIN_TENANT_ID}", ` +
            'resource="https://vault.azure.net"',
        },
      };
    }
    const failure = takeFailure(method, url.pathname);
    if (failure) {
      await readBody(req);
      const code = failure.code ?? DEFAULT_CODES[failure.status] ?? 'Error';
      return {
        ...errorReply(
          failure.status,
          code,
          `Simulated failure (${failure.status} ${code}) from the stand-in.`,
        ),
        ...(failure.retryAfterSeconds !== undefined
          ? { headers: { 'retry-after': String(failure.retryAfterSeconds) } }
          : {}),
      };
    }
    const raw = await readBody(req);
    if (raw === 'too-large') {
      return errorReply(413, 'RequestEntityTooLarge', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
    }
    const body = () => {
      if (raw.length === 0) throw badParameter('The request body is required.');
      try {
        return JSON.parse(raw.toString('utf8')) as unknown;
      } catch {
        throw badParameter('The request body is not valid JSON.');
      }
    };
    let segments: string[];
    try {
      segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      throw badParameter('The request URI is malformed.');
    }
    sweep();
    return route(method, segments, url.searchParams, body);
  };

  const send = (req: IncomingMessage, res: ServerResponse, reply: Reply) => {
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    requests.push({ method: req.method ?? 'GET', path, status: reply.status });
    // Sign and verify change nothing worth writing down.
    if (req.method !== 'GET' && reply.status < 300 && !/\/(sign|verify)$/.test(path)) persist();
    const headers: Record<string, string> = {
      'cache-control': 'no-cache',
      'x-ms-request-id': randomUUID(),
      ...reply.headers,
    };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  };

  const { cert, key } = serverCertificate(['localhost']);
  const server = https.createServer({ cert, key }, (req, res) => {
    handle(req)
      .catch((err: unknown) =>
        err instanceof KeyVaultError
          ? errorReply(err.status, err.code, err.message, err.innerCode)
          : errorReply(500, 'InternalServerError', 'Unexpected stand-in error.'),
      )
      .then((reply) => send(req, res, reply))
      .catch(() => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://localhost:${port}`;

  return {
    url: baseUrl,
    port,
    requests,
    resetRequests: () => {
      requests.length = 0;
    },
    failNext: (n, failOpts = {}) => {
      if (n > 0) failRules.push({ ...failOpts, status: failOpts.status ?? 503, remaining: n });
    },
    setDown: (value) => {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
