import { createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import {
  describeSecretRequest,
  describeTableRequest,
  isDependencyFailure,
} from '../../shared/core/dependency.ts';
import { DependencyError, toProblem } from '../../shared/core/errors.ts';

const req = (method: string, url: string) => createPipelineRequest({ url, method: method as 'GET' });

describe('dependency failures', () => {
  it('classifies network errors, timeouts and 5xx as dependency failures; clear answers are not', () => {
    expect(isDependencyFailure(new RestError('x', { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDependencyFailure(new RestError('x', { code: 'ECONNRESET' }))).toBe(true);
    expect(isDependencyFailure(new RestError('x'))).toBe(true); // a RestError without any status
    expect(isDependencyFailure(Object.assign(new Error('x'), { name: 'AbortError' }))).toBe(true);
    expect(isDependencyFailure(new RestError('x', { statusCode: 503 }))).toBe(true);
    expect(isDependencyFailure(new RestError('x', { statusCode: 500 }))).toBe(true);
    for (const s of [400, 403, 404, 409, 412]) {
      expect(isDependencyFailure(new RestError('x', { statusCode: s }))).toBe(false);
    }
    expect(isDependencyFailure(new Error('plain bug'))).toBe(false);
  });

  it('names operations and tables, never keys or secret names', () => {
    const base = 'http://127.0.0.1:1/devstoreaccount1';
    expect(describeTableRequest(req('GET', `${base}/tUsers(PartitionKey='alice',RowKey='x')`))).toEqual({
      operation: 'getEntity',
      table: 'tUsers',
    });
    expect(describeTableRequest(req('GET', `${base}/tUsers()?$filter=x`))).toEqual({
      operation: 'listEntities',
      table: 'tUsers',
    });
    // A key holding an encoded "/" never leaks into the table name.
    expect(
      describeTableRequest(req('DELETE', `${base}/tUsers(PartitionKey='a%2Fsecret',RowKey='b')`)),
    ).toEqual({ operation: 'deleteEntity', table: 'tUsers' });
    expect(describeTableRequest(req('POST', `${base}/$batch`)).operation).toBe('submitTransaction');
    expect(describeTableRequest(req('POST', `${base}/Tables`)).operation).toBe('createTable');
    const kv = describeSecretRequest(req('GET', 'https://localhost:9/secrets/integration-secret-1/abc'));
    expect(kv).toEqual({ operation: 'getSecret', vault: 'localhost:9' });
    expect(JSON.stringify(kv)).not.toContain('integration-secret');
  });

  it('a DependencyError is a 503 with Retry-After; re-wrapping keeps the cause', () => {
    const inner = new DependencyError('tables', undefined, {
      operation: 'getEntity',
      table: 'Users',
      status: 503,
    });
    const outer = new DependencyError('tables', inner);
    expect(outer.failure).toMatchObject({ operation: 'getEntity', table: 'Users', status: 503 });
    const { status, headers, problem } = toProblem(outer, 'c');
    expect(status).toBe(503);
    expect(Number(headers['Retry-After'])).toBeGreaterThan(0);
    expect(JSON.stringify(problem)).not.toMatch(/Users|getEntity/);
  });
});
