import type { Clock } from '../core/clock.ts';
import { daysUntil, EXPIRY_WARNING_DAYS } from './expiry.ts';
import type { Integration, IntegrationWarning } from './schemas.ts';
import type { IntegrationStore } from './store.ts';

/**
 * The warnings a create or an update answers with: an Application ID another integration uses, a
 * client secret or certificate that expired or expires soon.
 */
export async function warningsFor(
  deps: { store: IntegrationStore; clock: Clock },
  r: Integration,
): Promise<IntegrationWarning[]> {
  const warnings: IntegrationWarning[] = [];
  const others = (await deps.store.withApplicationId(r.applicationId)).filter((o) => o.id !== r.id);
  if (others.length > 0) {
    warnings.push({
      code: 'application_id_shared',
      message:
        'Another integration uses the same Application (client) ID. Use a separate app registration per ' +
        'purpose (for example sign-in apart from a CRM sync).',
      integrationIds: others.map((o) => o.id),
    });
  }
  const expiresOn = r.clientSecret?.expiresOn ?? r.credential.certificate?.expiresOn ?? null;
  const what = r.clientSecret ? 'client secret' : 'certificate';
  const fix = r.clientSecret ? 'rotate it' : 'add a new certificate as the second credential';
  const days = daysUntil(expiresOn, deps.clock.now());
  if (days !== null && days <= EXPIRY_WARNING_DAYS) {
    const expired = Date.parse(expiresOn as string) <= deps.clock.now();
    warnings.push(
      expired
        ? { code: 'secret_expired', message: `The ${what} has already expired; ${fix}.` }
        : {
            code: 'secret_expiring',
            message: `The ${what} expires in ${days} day(s); ${fix} before then.`,
            daysLeft: days,
          },
    );
  }
  return warnings;
}
