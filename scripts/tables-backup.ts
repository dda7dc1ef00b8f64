/**
 * `npm run tables:export` / `npm run tables:import`: copies the broker's tables to and from a folder of
 * JSON-lines files, one per table, with every property's Edm type, so a restore gives back the same
 * rows with the same types (Int64, DateTime with its 7 fractional digits, Binary, Guid, Double...).
 *
 *   npm run tables:export -- [--dir DIR] [--tables Users,UserBindings]
 *   npm run tables:import -- --dir DIR [--tables Users,UserBindings]
 *
 * Against Azure: BROKER_TABLE_ENDPOINT (the azd output) and the operator's own sign-in
 * (DefaultAzureCredential: `az login`, `azd auth login`, a pipeline's workload identity); export needs
 * Storage Table Data Reader, import Storage Table Data Contributor. Without BROKER_TABLE_ENDPOINT it
 * uses the local stack's settings and Azurite's development account.
 *
 * Import upserts (Replace): a row in the backup overwrites the row with its keys, rows that are not in
 * the backup stay. It creates missing tables, waiting while Azure still deletes one of the same name.
 * The Timestamp column is the service's own and is written anew.
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AzureNamedKeyCredential,
  type EdmTypes,
  TableClient,
  type TableEntity,
  type TransactionAction,
} from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import { TABLE_NAMES } from '../shared/storage/tables.ts';
import { applyLocalSettings } from './local-settings.ts';
import { repoRoot } from './standins/ca.ts';

export const BACKUP_FORMAT = 'identity-broker-tables/1';

/** One property as stored in a backup line: its Edm type and its value in JSON. */
export interface BackupValue {
  type: EdmTypes;
  value: string | number | boolean;
}

/** One line of a table's file. */
export interface BackupRow {
  partitionKey: string;
  rowKey: string;
  properties: Record<string, BackupValue>;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  exportedAt: string;
  /** Where the rows came from (an endpoint URL, never a credential). */
  source: string;
  tables: Record<string, { file: string; rows: number }>;
}

/** The SDK's metadata columns: not data, not written back (nor are `odata.*` annotations). */
const SKIPPED = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp']);

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A row as the SDK lists it with type conversion off, to a backup line (values keep their JSON form). */
export function toBackupRow(entity: Record<string, unknown>): BackupRow {
  const properties: Record<string, BackupValue> = {};
  for (const [name, raw] of Object.entries(entity)) {
    if (SKIPPED.has(name) || name.startsWith('odata.')) continue;
    const { type, value } = raw as { type: EdmTypes; value: unknown };
    properties[name] = { type: numberType(type, value), value: normalize(type, value) };
  }
  return { partitionKey: String(entity.partitionKey), rowKey: String(entity.rowKey), properties };
}

/**
 * Without a type annotation the SDK calls every whole number Int32; one outside Int32's range can only
 * be a Double (the service stores large JSON integers, e.g. epoch milliseconds, as Edm.Double).
 */
function numberType(type: EdmTypes, value: unknown): EdmTypes {
  if (type !== 'Int32') return type;
  const n = Number(value);
  return n < INT32_MIN || n > INT32_MAX ? 'Double' : 'Int32';
}

/** Booleans and numbers as JSON booleans and numbers; Double's NaN and infinities stay the service's text. */
function normalize(type: EdmTypes, value: unknown): string | number | boolean {
  switch (type) {
    case 'Boolean':
      return value === true || value === 'true';
    case 'Int32':
      return Number(value);
    case 'Double':
      return typeof value === 'number' || !Number.isFinite(Number(value))
        ? (value as number | string)
        : Number(value);
    default:
      return String(value);
  }
}

/** A backup line to the entity the SDK writes with the same Edm types. */
export function fromBackupRow(row: BackupRow): TableEntity {
  const entity: TableEntity = { partitionKey: row.partitionKey, rowKey: row.rowKey };
  for (const [name, { type, value }] of Object.entries(row.properties)) {
    (entity as Record<string, unknown>)[name] = { type, value };
  }
  return entity;
}

/** Writes every row of `client`'s table to `file` (JSON lines, in the service's key order). */
export async function exportTable(client: TableClient, file: string): Promise<number> {
  // Backups hold password hashes, admin token hashes and sessions: readable by the operator only.
  const out = createWriteStream(file, { mode: 0o600 });
  const done = new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
  });
  let rows = 0;
  try {
    for await (const entity of client.listEntities({ disableTypeConversion: true })) {
      const line = `${JSON.stringify(toBackupRow(entity as Record<string, unknown>))}\n`;
      if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
      rows++;
    }
  } catch (err) {
    // A table that was never created holds no rows; import creates it empty.
    if (errorCode(err) !== 'TableNotFound') throw err;
  } finally {
    out.end();
  }
  await done;
  return rows;
}

/** A transaction holds one partition, at most 100 actions and 4 MiB; this stays well under. */
const MAX_BATCH_ROWS = 100;
const MAX_BATCH_CHARS = 2_000_000;
const CONCURRENT_BATCHES = 8;

/** Upserts (Replace) every row of `file` into `client`'s table, creating the table when missing. */
export async function importTable(client: TableClient, file: string): Promise<number> {
  await createTableWhenFree(client);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  const inFlight = new Set<Promise<void>>();
  let batch: TransactionAction[] = [];
  let batchPartition: string | undefined;
  let batchChars = 0;
  let rows = 0;
  let failure: unknown;
  const flush = async () => {
    if (batch.length === 0) return;
    const actions = batch;
    batch = [];
    batchChars = 0;
    const p = client
      .submitTransaction(actions)
      .then(() => undefined)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= CONCURRENT_BATCHES) await Promise.race(inFlight);
  };
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as BackupRow;
    if (
      batch.length >= MAX_BATCH_ROWS ||
      batchChars + line.length > MAX_BATCH_CHARS ||
      (batchPartition !== undefined && row.partitionKey !== batchPartition)
    ) {
      await flush();
    }
    batchPartition = row.partitionKey;
    batch.push(['upsert', fromBackupRow(row), 'Replace']);
    batchChars += line.length;
    rows++;
    if (failure) break;
  }
  await flush();
  await Promise.all(inFlight);
  if (failure) throw failure;
  return rows;
}

/** The Table service's error code (x-ms-error-code) of an SDK error. */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; details?: { errorCode?: string } };
  return e.details?.errorCode ?? e.code;
}

/** Creates the table; Azure refuses the name for a while after a delete (409 TableBeingDeleted). */
async function createTableWhenFree(client: TableClient, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.createTable(); // an existing table is fine (the SDK ignores TableAlreadyExists)
      return;
    } catch (err) {
      if (errorCode(err) !== 'TableBeingDeleted' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

/** Exports each table to `<dir>/<Table>.jsonl` and writes `<dir>/manifest.json`. */
export async function exportTables(
  clients: Record<string, TableClient>,
  dir: string,
  source: string,
): Promise<BackupManifest> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    exportedAt: new Date().toISOString(),
    source,
    tables: {},
  };
  for (const [name, client] of Object.entries(clients)) {
    const file = `${name}.jsonl`;
    manifest.tables[name] = { file, rows: await exportTable(client, path.join(dir, file)) };
  }
  writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

/** Reads `<dir>/manifest.json`, checks every file has its rows, then imports the tables `clients` names. */
export async function importTables(
  clients: Record<string, TableClient>,
  dir: string,
): Promise<Record<string, number>> {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT) throw new Error(`${dir}: not a ${BACKUP_FORMAT} backup`);
  const missing = Object.keys(clients).filter((name) => !manifest.tables[name]);
  if (missing.length > 0) throw new Error(`${dir}: no rows for ${missing.join(', ')} in the manifest`);
  // A truncated or edited file is refused before anything is written.
  for (const name of Object.keys(clients)) {
    const { file, rows } = manifest.tables[name]!;
    const lines = readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    if (lines.length !== rows) throw new Error(`${file}: ${lines.length} rows, the manifest says ${rows}`);
  }
  const imported: Record<string, number> = {};
  for (const [name, client] of Object.entries(clients)) {
    imported[name] = await importTable(client, path.join(dir, manifest.tables[name]!.file));
  }
  return imported;
}

/** Azurite's published development account (Microsoft's docs; not a secret). */
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * Which numbers of a Table response are Doubles: written with a fraction or an exponent (`2.0`), which
 * JSON.parse turns into the same JS number as the Int32 `2`. Returns, per entity in response order,
 * the names of those properties (`root` for a single-entity response).
 */
export function doublesInResponse(text: string): { entities: Set<string>[]; root: Set<string> } {
  const entities: Set<string>[] = [];
  const root = new Set<string>();
  const stack: string[] = [];
  let current: Set<string> | undefined;
  let key: string | undefined;
  let expectingValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (!expectingValue) key = JSON.parse(text.slice(i, j + 1)) as string;
      i = j;
      expectingValue = false;
    } else if (c === ':') {
      expectingValue = true;
    } else if (c === '{' || c === '[') {
      stack.push(c);
      if (c === '{' && stack.length === 3 && stack[1] === '[') {
        current = new Set();
        entities.push(current);
      }
      expectingValue = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectingValue = false;
    } else if (c === ',') {
      expectingValue = false;
    } else if (expectingValue && (c === '-' || (c >= '0' && c <= '9'))) {
      let j = i;
      while (j < text.length && /[-+0-9.eE]/.test(text[j]!)) j++;
      const token = text.slice(i, j);
      const target = stack.length === 1 ? root : stack.length === 3 ? current : undefined;
      if (key !== undefined && /[.eE]/.test(token)) target?.add(key);
      i = j - 1;
      expectingValue = false;
    }
  }
  return { entities, root };
}

interface ResponseLike {
  request: { method: string };
  bodyAsText?: string | null;
  parsedBody?: unknown;
}

/**
 * Reads keep every Double a Double: each number the service wrote as `2.0` gets the `Edm.Double`
 * annotation JSON parsing would otherwise lose (the SDK would then call it an Int32).
 */
const keepDoubles = {
  policy: {
    name: 'tablesBackupKeepDoubles',
    sendRequest: async <R>(request: { method: string }, next: (request: never) => Promise<R>): Promise<R> => {
      const response = await next(request as never);
      const r = response as unknown as ResponseLike;
      const body = r.parsedBody as { value?: Record<string, unknown>[] } | undefined;
      if (request.method !== 'GET' || !r.bodyAsText || !body || typeof body !== 'object') return response;
      const { entities, root } = doublesInResponse(r.bodyAsText);
      const rows = Array.isArray(body.value) ? body.value : [body as Record<string, unknown>];
      const doubles = Array.isArray(body.value) ? entities : [root];
      rows.forEach((row, i) => {
        for (const name of doubles[i] ?? []) row[`${name}@odata.type`] ??= 'Edm.Double';
      });
      return response;
    },
  },
  position: 'perCall' as const,
};

/** Table clients for the broker's tables (or `only`), with the operator's identity or Azurite's account. */
export function tableClients(
  endpoint: string,
  opts: { devCredentials?: boolean; only?: string[]; prefix?: string } = {},
): Record<string, TableClient> {
  const names = opts.only ?? Object.values(TABLE_NAMES);
  const unknown = names.filter((n) => !(Object.values(TABLE_NAMES) as string[]).includes(n));
  if (unknown.length > 0) throw new Error(`not a broker table: ${unknown.join(', ')}`);
  let make: (table: string) => TableClient;
  if (opts.devCredentials) {
    const key = new AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
    make = (table) =>
      new TableClient(endpoint, table, key, {
        allowInsecureConnection: true,
        additionalPolicies: [keepDoubles],
      });
  } else {
    const credential = new DefaultAzureCredential();
    make = (table) => new TableClient(endpoint, table, credential, { additionalPolicies: [keepDoubles] });
  }
  return Object.fromEntries(names.map((name) => [name, make((opts.prefix ?? '') + name)]));
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: { dir: { type: 'string' }, tables: { type: 'string' } },
    strict: true,
  });
  if (command !== 'export' && command !== 'import') {
    throw new Error(
      'usage: tables-backup.ts export [--dir DIR] [--tables A,B] | import --dir DIR [--tables A,B]',
    );
  }
  if (!process.env.BROKER_TABLE_ENDPOINT) applyLocalSettings();
  const endpoint = process.env.BROKER_TABLE_ENDPOINT;
  if (!endpoint) throw new Error('BROKER_TABLE_ENDPOINT is not set (azd env get-values prints it)');
  const only = values.tables?.split(',').map((t) => t.trim());
  const clients = tableClients(endpoint, {
    devCredentials: process.env.BROKER_DEV_CREDENTIALS === 'true',
    ...(only ? { only } : {}),
  });
  if (command === 'export') {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const dir = path.resolve(values.dir ?? path.join(repoRoot, '.local', 'backups', `tables-${stamp}`));
    const manifest = await exportTables(clients, dir, endpoint);
    for (const [name, { rows }] of Object.entries(manifest.tables)) console.log(`${name}: ${rows} rows`);
    console.log(`exported ${endpoint} to ${dir}`);
  } else {
    if (!values.dir) throw new Error('import needs --dir DIR (a folder written by tables:export)');
    const dir = path.resolve(values.dir);
    console.log(`importing ${dir} into ${endpoint} (upsert: rows with the same keys are replaced)`);
    const imported = await importTables(clients, dir);
    for (const [name, rows] of Object.entries(imported)) console.log(`${name}: ${rows} rows`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    // SDK errors carry the service's whole JSON as their message: its code and status say enough.
    const code = errorCode(err);
    const { statusCode } = err as { statusCode?: number };
    const reason = statusCode ? `${code ?? 'error'} (${statusCode})` : undefined;
    console.error(`tables-backup failed: ${reason ?? (err instanceof Error ? err.message : String(err))}`);
    process.exit(1);
  });
}
