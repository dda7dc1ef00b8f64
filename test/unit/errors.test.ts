import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  DependencyError,
  TooManyRequestsError,
  toProblem,
  ValidationError,
} from '../../shared/core/errors.ts';

describe('problem details', () => {
  it('shows the message and extras of a client error', () => {
    const { status, problem } = toProblem(
      new ValidationError([{ field: 'title', message: 'Required' }]),
      'cid-1',
    );
    expect(status).toBe(400);
    expect(problem).toMatchObject({
      status: 400,
      code: 'validation_failed',
      title: 'Bad Request',
      instance: 'urn:broker:correlation:cid-1',
      errors: [{ field: 'title', message: 'Required' }],
    });
    expect(toProblem(new ConflictError('Title in use.', 'duplicate_title'), 'x').problem.detail).toBe(
      'Title in use.',
    );
  });

  it('never shows the message or stack of an unknown error', () => {
    const sdkError = Object.assign(new Error('Server failed to authenticate the request. AccountKey=abc'), {
      statusCode: 403,
    });
    const { status, problem, headers } = toProblem(sdkError, 'cid-2');
    expect(status).toBe(500);
    const text = JSON.stringify(problem);
    expect(text).not.toContain('AccountKey');
    expect(text).not.toContain('authenticate');
    expect(text).not.toMatch(/\bat .+\(.+:\d+:\d+\)/);
    expect(problem.code).toBe('internal_error');
    expect(problem.correlationId).toBe('cid-2');
    expect(headers).toEqual({});
  });

  it('handles thrown non-errors', () => {
    expect(toProblem('boom', 'c').status).toBe(500);
    expect(toProblem(undefined, 'c').problem.detail).toMatch(/correlation id/);
  });

  it('gives a dependency failure a 503 without the cause', () => {
    const { status, problem } = toProblem(
      new DependencyError('secrets', new Error('ECONNREFUSED secret!')),
      'c',
    );
    expect(status).toBe(503);
    expect(problem.dependency).toBe('secrets');
    expect(JSON.stringify(problem)).not.toContain('ECONNREFUSED');
  });

  it('carries Retry-After for throttling', () => {
    const { headers, problem } = toProblem(new TooManyRequestsError(12.2), 'c');
    expect(headers['Retry-After']).toBe('13');
    expect(problem.retryAfter).toBe(13);
  });
});
