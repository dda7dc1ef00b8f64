/**
 * How a failed browser sign-in is shown: a sign-in failure with its own case, anything else by its
 * status, on an error page with a fixed text and the correlation id (nothing reflected); the password
 * form's own refusals (throttled, invalid credentials) on the form itself.
 */
import type { HttpResponseInit } from '@azure/functions';
import { BrokerError } from '../../core/errors.ts';
import { type AccountMismatch, SignInError, type SignInErrorCase } from '../../signin/errors.ts';
import { errorPage } from './render.ts';
import { type ErrorCase, TEXTS, t } from './texts.ts';

/** Every sign-in case has its text (this does not compile when one is missing). */
const pageCase = (errorCase: SignInErrorCase): ErrorCase => errorCase;

function errorCaseFor(status: number): ErrorCase {
  if (status === 403) return 'forbidden_origin';
  if (status === 404) return 'integration_not_found';
  if (status === 429) return 'throttled';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'internal';
  return 'invalid_callback';
}

/**
 * What an unmatched first Entra sign-in compared, for the user who just did it: the account their
 * organisation returned (their own), what it had to equal, and what to ask the admin.
 */
export function mismatchDetails(m: AccountMismatch, username: string | null): string[] {
  const values = { account: m.returnedAccount, claim: m.matchClaim, username: username ?? '' };
  if (!username) return [t(TEXTS.mismatchNoUser, values), t(TEXTS.mismatchAskAdmin, values)];
  return [
    t(TEXTS.mismatchReturned, values),
    t(TEXTS.mismatchForUser, values),
    ...(m.userEmailEmpty ? [t(TEXTS.mismatchNoEmail, values)] : []),
    t(TEXTS.mismatchAskAdmin, values),
  ];
}

/** The error page of a browser route. */
export function signInErrorPage(o: {
  product: string;
  status: number;
  correlationId: string;
  err: unknown;
}): HttpResponseInit {
  const { err } = o;
  const errorCase = err instanceof SignInError ? pageCase(err.errorCase) : errorCaseFor(o.status);
  // "Start again" keeps the (already allow-listed) return URL of the failed sign-in (docs/security.md RU2).
  const returnTo = err instanceof SignInError ? err.returnTo : null;
  return errorPage({
    product: o.product,
    status: o.status,
    errorCase,
    correlationId: o.correlationId,
    ...(returnTo ? { startOver: `/api/auth/login?returnTo=${encodeURIComponent(returnTo)}` } : {}),
    ...(err instanceof BrokerError ? { headers: err.headers } : {}),
    ...(err instanceof SignInError && err.mismatch
      ? { details: mismatchDetails(err.mismatch, err.username) }
      : {}),
  });
}

/**
 * A password sign-in refusal shown on the password form (status, headers and the field's error), or
 * undefined for a failure that gets the error page. One text for every reason a password is refused:
 * unknown user, wrong password, method not allowed (docs/security.md PW4).
 */
export function passwordFormError(
  err: unknown,
): { status: number; headers?: Record<string, string>; error: string } | undefined {
  if (!(err instanceof SignInError)) return undefined;
  if (err.errorCase === 'throttled') {
    return {
      status: err.status,
      headers: err.headers,
      error: t(TEXTS.throttled, { seconds: err.headers['Retry-After'] ?? '60' }),
    };
  }
  if (err.errorCase === 'invalid_credentials') {
    return { status: err.status, error: TEXTS.errors.invalid_credentials };
  }
  return undefined;
}
