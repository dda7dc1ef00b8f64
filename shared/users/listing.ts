import { ValidationError } from '../core/errors.ts';
import type { UserServiceDeps } from './ports.ts';
import { DEFAULT_PAGE_SIZE, isValidUsername, type User } from './schemas.ts';
import { viewUsers } from './views.ts';

/** The cursor is opaque to clients: base64url JSON of the last username returned. */
function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      v?: unknown;
      after?: unknown;
    };
    if (value.v === 1 && typeof value.after === 'string' && isValidUsername(value.after)) return value.after;
  } catch {
    // fall through
  }
  throw new ValidationError([{ field: 'cursor', message: 'is not a valid cursor' }]);
}

/** One page of users in username order (GET /api/manage/users). */
export async function listUsers(
  deps: Pick<UserServiceDeps, 'store' | 'integrations'>,
  opts: { limit?: number; cursor?: string; verifyType?: string; prefix?: string },
): Promise<{ items: User[]; nextCursor: string | null }> {
  const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
  const page = await deps.store.list({
    limit: opts.limit ?? DEFAULT_PAGE_SIZE,
    ...(after ? { after } : {}),
    ...(opts.verifyType ? { verifyType: opts.verifyType } : {}),
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
  });
  return {
    items: await viewUsers(deps.integrations, page.items),
    nextCursor: page.after ? encodeCursor(page.after) : null,
  };
}
