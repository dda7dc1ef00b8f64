/**
 * Fail fast and say why when a dependency (Table Storage, Key Vault) is down or hangs:
 * a pipeline policy, placed in front of the SDK's retry policy, bounds each attempt with a timeout and
 * turns "could not talk to it" (refused, reset, timed out, 5xx after the retries) into a
 * DependencyError, which the endpoint answers with 503 + Retry-After. The SDK's retries are short
 * (see DEPENDENCY_RETRY_OPTIONS), so a dependency that refuses answers 503 in well under a second and
 * one that hangs in DEPENDENCY_ATTEMPT_TIMEOUT_MS (a timed-out attempt is not retried by the SDK).
 */
import type { PipelinePolicy, PipelineRequest } from '@azure/core-rest-pipeline';
import type { Config } from './config.ts';
import { type Dependency, DependencyError, type DependencyFailure, sdkStatus } from './errors.ts';

/** Per attempt in production: short enough to answer within 3 s. */
export const DEPENDENCY_ATTEMPT_TIMEOUT_MS = 2000;
/** Per attempt on the local stack (Azurite and the stand-ins share a busy developer machine). */
export const DEV_DEPENDENCY_ATTEMPT_TIMEOUT_MS = 10_000;

/** The attempt timeout for this configuration (BROKER_DEPENDENCY_TIMEOUT_MS overrides the default). */
export function dependencyTimeoutMs(
  config: Pick<Config, 'BROKER_DEPENDENCY_TIMEOUT_MS' | 'BROKER_DEV_CREDENTIALS'>,
): number {
  return (
    config.BROKER_DEPENDENCY_TIMEOUT_MS ??
    (config.BROKER_DEV_CREDENTIALS ? DEV_DEPENDENCY_ATTEMPT_TIMEOUT_MS : DEPENDENCY_ATTEMPT_TIMEOUT_MS)
  );
}
/** 3 attempts in total on refused/reset/5xx, 100 ms then 200 ms apart (at most 400 ms). */
export const DEPENDENCY_RETRY_OPTIONS = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 400 };

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code) ? code : undefined;
}

/**
 * Whether an error means "the dependency could not be reached or failed on its side" (as opposed to a
 * clear answer like 404/409/412). RestErrors without a status, network codes, aborts/timeouts, 5xx.
 */
export function isDependencyFailure(err: unknown): boolean {
  if (err instanceof DependencyError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const status = sdkStatus(err);
  if (status !== undefined) return status >= 500 || status === 408;
  const name = (err as { name?: unknown }).name;
  if (name === 'AbortError' || name === 'TimeoutError') return true;
  const code = codeOf(err);
  if (code && NETWORK_CODES.has(code.toUpperCase())) return true;
  // A RestError without any status never got an answer.
  return name === 'RestError';
}

/** `GET Users(PartitionKey='…',RowKey='…')` → getEntity / Users — names of operations, never keys. */
export function describeTableRequest(request: PipelineRequest): { operation: string; table: string } {
  // The raw (still percent-encoded) last segment: a key with an encoded "/" stays inside it. Only the
  // table name's leading letters and digits are kept, never the keys in parentheses.
  const path = new URL(request.url).pathname.split('/').filter(Boolean).at(-1) ?? '';
  const resource = /^[A-Za-z][A-Za-z0-9]{0,62}/.exec(path)?.[0] ?? 'unknown';
  const isEntity = path.includes('(') && !path.endsWith('()');
  const m = request.method;
  let operation: string;
  if (path === '$batch') operation = 'submitTransaction';
  else if (resource === 'Tables')
    operation = m === 'POST' ? 'createTable' : m === 'DELETE' ? 'deleteTable' : 'listTables';
  else if (m === 'GET') operation = isEntity ? 'getEntity' : 'listEntities';
  else if (m === 'POST') operation = 'createEntity';
  else if (m === 'DELETE') operation = 'deleteEntity';
  else if (m === 'PUT' || m === 'PATCH' || (m as string) === 'MERGE') operation = 'updateEntity';
  else operation = m;
  return { operation, table: path === '$batch' ? 'batch' : resource };
}

/** `/secrets/{name}/{version}` → getSecret etc.; the resource is the vault host, not the secret name. */
export function describeSecretRequest(request: PipelineRequest): { operation: string; vault: string } {
  const url = new URL(request.url);
  const parts = url.pathname.split('/').filter(Boolean);
  const m = request.method;
  let operation: string = m;
  if (parts[0] === 'secrets') {
    if (m === 'PUT') operation = 'setSecret';
    else if (m === 'PATCH') operation = 'updateSecretProperties';
    else if (m === 'DELETE') operation = 'deleteSecret';
    else if (parts.length >= 3 && parts[2] === 'versions') operation = 'listSecretVersions';
    else if (parts.length >= 2) operation = 'getSecret';
    else operation = 'listSecrets';
  }
  return { operation, vault: url.host };
}

/**
 * The policy: add it with `additionalPolicies: [{ policy, position: 'perCall' }]` so that it sees the
 * outcome after the SDK's own retries.
 */
export function dependencyPolicy(
  dependency: Dependency,
  describe: (request: PipelineRequest) => DependencyFailure,
  timeoutMs = DEPENDENCY_ATTEMPT_TIMEOUT_MS,
): PipelinePolicy {
  return {
    name: `broker-dependency-${dependency}`,
    async sendRequest(request, next) {
      // Per attempt (the node client arms it on every send, retries included).
      if (!request.timeout || request.timeout > timeoutMs) request.timeout = timeoutMs;
      let response: Awaited<ReturnType<typeof next>>;
      try {
        response = await next(request);
      } catch (err) {
        if (err instanceof DependencyError || !isDependencyFailure(err)) throw err;
        const status = sdkStatus(err);
        const code = codeOf(err) ?? (err as { name?: string }).name;
        throw new DependencyError(dependency, err, {
          ...describe(request),
          ...(status !== undefined ? { status } : {}),
          ...(code ? { errorCode: code } : {}),
        });
      }
      if (response.status >= 500) {
        const serviceCode = response.headers.get('x-ms-error-code') ?? undefined;
        throw new DependencyError(dependency, undefined, {
          ...describe(request),
          status: response.status,
          ...(serviceCode && /^[A-Za-z0-9_]{1,60}$/.test(serviceCode) ? { errorCode: serviceCode } : {}),
        });
      }
      return response;
    },
  };
}
