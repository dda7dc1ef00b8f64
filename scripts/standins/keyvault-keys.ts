/**
 * The Keys part of the Key Vault stand-in: what `@azure/keyvault-keys` (KeyClient and
 * CryptographyClient) needs for a non-exportable RSA signing key.
 *   POST   /keys/{name}/create                  RSA 2048/3072/4096; a new version when the name exists
 *   GET    /keys/{name}/{version?}              public JWK only (n, e), never private material
 *   GET    /keys, /keys/{name}/versions         paged
 *   PATCH  /keys/{name}/{version?}              enabled / nbf / exp / tags / key_ops
 *   POST   /keys/{name}/{version}/sign          RS256/384/512, PS256/384/512 over a digest
 *   POST   /keys/{name}/{version}/verify
 *   DELETE /keys/{name}                         soft delete
 *   GET    /deletedkeys, /deletedkeys/{name}    DELETE purges, POST …/recover recovers
 * A deleted but not purged name answers 409 to create, as Key Vault does.
 */
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import {
  applyAttributes,
  badParameter,
  checkName,
  isRecord,
  KeyVaultError,
  nowSeconds,
  page,
  parseAttributes,
  parseTags,
  type Reply,
  type VersionAttributes,
} from './keyvault-common.ts';

const KEY_SIZES = [2048, 3072, 4096];
const RSA_KEY_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];
const NOT_FOUND_HELP =
  'If you recently deleted this key you may be able to recover it using the correct recovery command. ' +
  'For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182';

/** DER prefixes of PKCS #1 v1.5 DigestInfo per hash (RFC 8017 §9.2, note 1). */
const DIGEST_INFO: Record<string, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};
const ALGORITHMS: Record<string, { hash: 'sha256' | 'sha384' | 'sha512'; pss: boolean; length: number }> = {
  RS256: { hash: 'sha256', pss: false, length: 32 },
  RS384: { hash: 'sha384', pss: false, length: 48 },
  RS512: { hash: 'sha512', pss: false, length: 64 },
  PS256: { hash: 'sha256', pss: true, length: 32 },
  PS384: { hash: 'sha384', pss: true, length: 48 },
  PS512: { hash: 'sha512', pss: true, length: 64 },
};

interface KeyAttributes extends VersionAttributes {
  exportable: boolean;
}

export interface KeyVersion {
  version: string;
  /** PKCS #8 PEM; stays inside the stand-in. */
  privatePem: string;
  keySize: number;
  keyOps: string[];
  tags?: Record<string, string>;
  attributes: KeyAttributes;
}

export interface StoredKey {
  name: string;
  versions: KeyVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

export interface KeyStoreOptions {
  baseUrl: () => string;
  recoveryLevel: string;
  retentionDays: number;
  purgeProtection: boolean;
  /** Keys restored from the stand-in's state file. */
  initial?: [string, StoredKey][];
}

function keyNotFound(name: string, version?: string): KeyVaultError {
  const id = version ? `${name}/${version}` : name;
  return new KeyVaultError(
    404,
    'KeyNotFound',
    `A key with (name/id) ${id} was not found in this key vault. ${NOT_FOUND_HELP}`,
  );
}

function mgf1(seed: Buffer, length: number, hash: string): Buffer {
  const out: Buffer[] = [];
  for (let counter = 0; Buffer.concat(out).length < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    out.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of an already computed digest, salt length = hash length. */
function pssEncode(digest: Buffer, hash: string, modulusBits: number): Buffer {
  const hLen = digest.length;
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(h, emLen - hLen - 1, hash);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  // RSA without padding takes exactly the modulus length.
  return Buffer.concat([Buffer.alloc(Math.ceil(modulusBits / 8) - em.length), em]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) of a digest against the decoded message `em`. */
function pssVerify(digest: Buffer, em: Buffer, hash: string, modulusBits: number): boolean {
  const hLen = digest.length;
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const m = em.subarray(em.length - emLen);
  if (m[m.length - 1] !== 0xbc) return false;
  const maskedDb = Buffer.from(m.subarray(0, emLen - hLen - 1));
  const h = m.subarray(emLen - hLen - 1, emLen - 1);
  const mask = mgf1(h, maskedDb.length, hash);
  for (let i = 0; i < maskedDb.length; i++) maskedDb[i] = (maskedDb[i] ?? 0) ^ (mask[i] ?? 0);
  maskedDb[0] = (maskedDb[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  const psLen = emLen - 2 * hLen - 2;
  if (!maskedDb.subarray(0, psLen).every((b) => b === 0) || maskedDb[psLen] !== 1) return false;
  const salt = maskedDb.subarray(maskedDb.length - hLen);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(expected, h);
}

function signDigest(v: KeyVersion, alg: string, digest: Buffer): Buffer {
  const spec = ALGORITHMS[alg];
  if (!spec)
    throw badParameter(`Invalid algorithm: ${alg}. The stand-in signs with RS256/384/512 and PS256/384/512.`);
  if (digest.length !== spec.length)
    throw badParameter(`Invalid digest length for ${alg}: ${digest.length} bytes.`);
  const key = createPrivateKey(v.privatePem);
  if (spec.pss) {
    return privateEncrypt(
      { key, padding: constants.RSA_NO_PADDING },
      pssEncode(digest, spec.hash, v.keySize),
    );
  }
  return privateEncrypt(
    { key, padding: constants.RSA_PKCS1_PADDING },
    Buffer.concat([DIGEST_INFO[spec.hash] as Buffer, digest]),
  );
}

function verifyDigest(v: KeyVersion, alg: string, digest: Buffer, signature: Buffer): boolean {
  const spec = ALGORITHMS[alg];
  if (!spec) throw badParameter(`Invalid algorithm: ${alg}.`);
  if (digest.length !== spec.length)
    throw badParameter(`Invalid digest length for ${alg}: ${digest.length} bytes.`);
  const key = createPublicKey(v.privatePem);
  try {
    if (spec.pss) {
      return pssVerify(
        digest,
        publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature),
        spec.hash,
        v.keySize,
      );
    }
    const decoded = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    const expected = Buffer.concat([DIGEST_INFO[spec.hash] as Buffer, digest]);
    return decoded.length === expected.length && timingSafeEqual(decoded, expected);
  } catch {
    return false;
  }
}

function base64url(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(value)) {
    throw badParameter(`Property ${field} must be base64url.`);
  }
  return Buffer.from(value, 'base64url');
}

function parseKeyOps(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((op) => typeof op !== 'string' || !RSA_KEY_OPS.includes(op))) {
    throw badParameter(`Property key_ops must be a list of: ${RSA_KEY_OPS.join(', ')}.`);
  }
  return [...new Set(v as string[])];
}

export function createKeyStore(opts: KeyStoreOptions) {
  const keys = new Map<string, StoredKey>(opts.initial ?? []);
  const { recoveryLevel, retentionDays } = opts;

  const latest = (k: StoredKey) => k.versions[k.versions.length - 1] as KeyVersion;
  const keyId = (k: StoredKey, v?: KeyVersion) =>
    `${opts.baseUrl()}/keys/${k.name}${v ? `/${v.version}` : ''}`;

  const attributesOut = (a: KeyAttributes) => ({
    enabled: a.enabled,
    ...(a.nbf !== undefined ? { nbf: a.nbf } : {}),
    ...(a.exp !== undefined ? { exp: a.exp } : {}),
    created: a.created,
    updated: a.updated,
    recoveryLevel,
    recoverableDays: retentionDays,
    exportable: a.exportable,
  });

  /** KeyBundle: the public JWK (n, e) only. */
  const bundle = (k: StoredKey, v: KeyVersion) => {
    const jwk = createPublicKey(v.privatePem).export({ format: 'jwk' });
    return {
      key: { kid: keyId(k, v), kty: 'RSA', key_ops: v.keyOps, n: jwk.n, e: jwk.e },
      attributes: attributesOut(v.attributes),
      ...(v.tags ? { tags: v.tags } : {}),
    };
  };

  const item = (k: StoredKey, v: KeyVersion, withVersion: boolean) => ({
    kid: keyId(k, withVersion ? v : undefined),
    attributes: attributesOut(v.attributes),
    ...(v.tags ? { tags: v.tags } : {}),
  });

  const deletedFields = (k: StoredKey) => ({
    recoveryId: `${opts.baseUrl()}/deletedkeys/${k.name}`,
    deletedDate: k.deleted?.deletedDate,
    scheduledPurgeDate: k.deleted?.scheduledPurgeDate,
  });

  const sweep = () => {
    const now = nowSeconds();
    for (const [key, k] of keys) if (k.deleted && k.deleted.scheduledPurgeDate <= now) keys.delete(key);
  };

  const live = (name: string): StoredKey => {
    const k = keys.get(name.toLowerCase());
    if (!k || k.deleted) throw keyNotFound(name);
    return k;
  };

  const deleted = (name: string): StoredKey => {
    const k = keys.get(name.toLowerCase());
    if (!k?.deleted) throw new KeyVaultError(404, 'KeyNotFound', `Deleted Key not found: ${name}`);
    return k;
  };

  const findVersion = (k: StoredKey, name: string, version: string): KeyVersion => {
    if (version === '') return latest(k);
    const v = k.versions.find((x) => x.version === version.toLowerCase());
    if (!v) throw keyNotFound(name, version);
    return v;
  };

  /** A version an operation may use now: enabled, inside nbf/exp, with the operation in key_ops. */
  const usable = (v: KeyVersion, op: string) => {
    const now = nowSeconds();
    const a = v.attributes;
    if (!a.enabled)
      throw new KeyVaultError(
        403,
        'Forbidden',
        `Operation ${op} is not allowed on a disabled key.`,
        'KeyDisabled',
      );
    if ((a.nbf !== undefined && a.nbf > now) || (a.exp !== undefined && a.exp <= now)) {
      throw new KeyVaultError(
        403,
        'Forbidden',
        `Operation ${op} is not allowed on an expired or not yet valid key.`,
      );
    }
    if (!v.keyOps.includes(op)) {
      throw new KeyVaultError(
        403,
        'Forbidden',
        `Operation ${op} is not permitted on this key.`,
        'KeyOperationForbidden',
      );
    }
  };

  const createKey = (name: string, body: unknown): Reply => {
    if (!isRecord(body)) throw badParameter('The request body must be a JSON object.');
    if (body.kty !== 'RSA' && body.kty !== 'RSA-HSM') {
      throw badParameter(`The stand-in creates RSA keys only; got kty ${String(body.kty)}.`);
    }
    const keySize = body.key_size === undefined || body.key_size === null ? 2048 : body.key_size;
    if (typeof keySize !== 'number' || !KEY_SIZES.includes(keySize)) {
      throw badParameter(`Invalid key size ${String(keySize)}: RSA keys are 2048, 3072 or 4096 bits.`);
    }
    const keyOps = parseKeyOps(body.key_ops) ?? RSA_KEY_OPS;
    const tags = parseTags(body.tags);
    const changes = parseAttributes(body.attributes);
    const rawAttributes = isRecord(body.attributes) ? body.attributes : {};
    const exportable = rawAttributes.exportable === true;
    if (exportable && !body.release_policy) {
      throw badParameter('Exportable keys must have a release policy.');
    }
    if (body.release_policy) throw badParameter('The stand-in does not support key release policies.');
    const key = name.toLowerCase();
    let k = keys.get(key);
    if (k?.deleted) {
      throw new KeyVaultError(
        409,
        'Conflict',
        `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this ` +
          'state, the key can only be recovered or purged.',
        'ObjectIsDeletedButRecoverable',
      );
    }
    if (!k) {
      k = { name, versions: [] };
      keys.set(key, k);
    }
    const now = nowSeconds();
    const attributes: KeyAttributes = { enabled: true, created: now, updated: now, exportable: false };
    applyAttributes(attributes, changes);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: keySize });
    const v: KeyVersion = {
      version: randomBytes(16).toString('hex'),
      privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      keySize,
      keyOps,
      ...(tags ? { tags } : {}),
      attributes,
    };
    k.versions.push(v);
    return { status: 200, body: bundle(k, v) };
  };

  const updateKey = (name: string, version: string, body: unknown): Reply => {
    if (!isRecord(body)) throw badParameter('The request body must be a JSON object.');
    const k = live(name);
    const v = findVersion(k, name, version);
    const keyOps = parseKeyOps(body.key_ops);
    const tags = body.tags === undefined ? undefined : parseTags(body.tags);
    applyAttributes(v.attributes, parseAttributes(body.attributes));
    if (keyOps) v.keyOps = keyOps;
    if (body.tags !== undefined) {
      if (tags) v.tags = tags;
      else delete v.tags;
    }
    v.attributes.updated = nowSeconds();
    return { status: 200, body: bundle(k, v) };
  };

  const sign = (name: string, version: string, body: unknown): Reply => {
    if (!isRecord(body)) throw badParameter('The request body must be a JSON object.');
    const k = live(name);
    const v = findVersion(k, name, version);
    usable(v, 'sign');
    const signature = signDigest(v, String(body.alg), base64url(body.value, 'value'));
    return { status: 200, body: { kid: keyId(k, v), value: signature.toString('base64url') } };
  };

  const verify = (name: string, version: string, body: unknown): Reply => {
    if (!isRecord(body)) throw badParameter('The request body must be a JSON object.');
    const k = live(name);
    const v = findVersion(k, name, version);
    usable(v, 'verify');
    const ok = verifyDigest(
      v,
      String(body.alg),
      base64url(body.digest, 'digest'),
      base64url(body.value, 'value'),
    );
    return { status: 200, body: { value: ok } };
  };

  const sortedKeys = (wantDeleted: boolean) =>
    [...keys.entries()]
      .filter(([, k]) => Boolean(k.deleted) === wantDeleted)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const route = (
    method: string,
    segments: string[],
    query: URLSearchParams,
    body: () => unknown,
  ): Reply | undefined => {
    const [collection, rawName, sub, op, ...extra] = segments;
    const notAllowed = (): Reply => ({
      status: 405,
      body: { error: { code: 'MethodNotAllowed', message: `The method ${method} is not allowed here.` } },
    });
    const notFound = (): Reply => ({
      status: 404,
      body: { error: { code: 'NotFound', message: 'The requested resource was not found.' } },
    });
    if (collection !== 'keys' && collection !== 'deletedkeys') return undefined;
    if (extra.length > 0) return notFound();
    sweep();

    if (collection === 'keys') {
      if (rawName === undefined || (rawName === '' && sub === undefined)) {
        if (method !== 'GET') return notAllowed();
        const entries = sortedKeys(false).map(([key, k]) => ({ key, value: item(k, latest(k), false) }));
        return { status: 200, body: page(opts.baseUrl(), entries, '/keys', query) };
      }
      const name = checkName(rawName);
      if (sub === 'create' && op === undefined)
        return method === 'POST' ? createKey(name, body()) : notAllowed();
      if (sub === undefined) {
        if (method === 'GET') {
          const k = live(name);
          return { status: 200, body: bundle(k, latest(k)) };
        }
        if (method === 'DELETE') {
          const k = live(name);
          const now = nowSeconds();
          k.deleted = { deletedDate: now, scheduledPurgeDate: now + retentionDays * 86400 };
          return { status: 200, body: { ...deletedFields(k), ...bundle(k, latest(k)) } };
        }
        if (method === 'PATCH') return updateKey(name, '', body());
        return notAllowed();
      }
      if (sub === 'versions' && op === undefined) {
        if (method !== 'GET') return notAllowed();
        const k = live(name);
        const entries = k.versions.map((v, i) => ({
          key: String(i).padStart(8, '0'),
          value: item(k, v, true),
        }));
        return { status: 200, body: page(opts.baseUrl(), entries, `/keys/${k.name}/versions`, query) };
      }
      if (sub !== '' && !/^[0-9a-zA-Z]{1,64}$/.test(sub)) throw keyNotFound(name, sub);
      if (op === 'sign') return method === 'POST' ? sign(name, sub, body()) : notAllowed();
      if (op === 'verify') return method === 'POST' ? verify(name, sub, body()) : notAllowed();
      if (op !== undefined) return notFound();
      if (method === 'GET') {
        const k = live(name);
        return { status: 200, body: bundle(k, findVersion(k, name, sub)) };
      }
      if (method === 'PATCH') return updateKey(name, sub, body());
      return notAllowed();
    }

    if (rawName === undefined || (rawName === '' && sub === undefined)) {
      if (method !== 'GET') return notAllowed();
      const entries = sortedKeys(true).map(([key, k]) => ({
        key,
        value: { ...deletedFields(k), ...item(k, latest(k), false) },
      }));
      return { status: 200, body: page(opts.baseUrl(), entries, '/deletedkeys', query) };
    }
    const name = checkName(rawName);
    if (sub === undefined) {
      if (method === 'GET') {
        const k = deleted(name);
        return { status: 200, body: { ...deletedFields(k), ...bundle(k, latest(k)) } };
      }
      if (method === 'DELETE') {
        const k = deleted(name);
        if (opts.purgeProtection) {
          throw new KeyVaultError(
            403,
            'Forbidden',
            'Operation "purge" is not allowed because purge protection is enabled for this vault. ' +
              'Key Vault service will automatically purge it after the retention period has passed.',
          );
        }
        keys.delete(k.name.toLowerCase());
        return { status: 204 };
      }
      return notAllowed();
    }
    if (sub === 'recover' && op === undefined) {
      if (method !== 'POST') return notAllowed();
      const k = deleted(name);
      delete k.deleted;
      return { status: 200, body: bundle(k, latest(k)) };
    }
    return notFound();
  };

  return { route, entries: () => [...keys.entries()] };
}
