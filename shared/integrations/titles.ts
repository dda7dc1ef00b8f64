import { ValidationError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { nameKey } from '../core/names.ts';
import { bestEffort } from './resource.ts';
import { RESERVED_TITLE } from './schemas.ts';
import type { IntegrationRecord, IntegrationStore, StoredIntegration } from './store.ts';

/** A validation failure (400) like the other title rules: `password` is the other verify type. */
function reservedTitle(): ValidationError {
  return new ValidationError([{ field: 'title', message: 'is reserved ("password", in any case)' }]);
}

export function checkTitle(title: string): void {
  if (nameKey(title) === RESERVED_TITLE) throw reservedTitle();
}

/**
 * A rename claims the new title's index row before the write and releases the old one after it;
 * a failed write releases the new one again.
 */
export async function replaceRetitled(
  deps: { store: IntegrationStore; log: Logger },
  next: IntegrationRecord,
  current: StoredIntegration,
): Promise<StoredIntegration> {
  const { store, log } = deps;
  const titleMoved = next.titleKey !== current.titleKey;
  if (titleMoved) await store.claimTitle(next.titleKey, next.title, current.id);
  let stored: StoredIntegration;
  try {
    stored = await store.replace(next, current.etag);
  } catch (err) {
    if (titleMoved)
      await bestEffort(log, 'release_title', () => store.releaseTitle(next.titleKey, current.id));
    throw err;
  }
  if (titleMoved)
    await bestEffort(log, 'release_title', () => store.releaseTitle(current.titleKey, current.id));
  return stored;
}
