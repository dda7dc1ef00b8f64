/**
 * Credential expiry (a client secret's, or a certificate's): days left, and the warnings shown by
 * create/patch and by `GET /api/manage/health`.
 */
import type { HealthWarning } from '../ops/health.ts';

const DAY_MS = 86_400_000;
/** Secrets expiring within this many days are reported. */
export const EXPIRY_WARNING_DAYS = 30;

/** Whole days until `expiresOn` (negative once expired, 0 on the last day); null when unknown. */
export function daysUntil(expiresOn: string | null, now: number): number | null {
  if (!expiresOn) return null;
  const t = Date.parse(expiresOn);
  return Number.isFinite(t) ? Math.floor((t - now) / DAY_MS) : null;
}

export interface ExpiryInput {
  id: string;
  secretExpiresOn: string | null;
  /** What expires; a client secret unless said otherwise. */
  credentialKind?: 'clientSecret' | 'certificate';
}

/**
 * Health warnings for integrations whose secret has expired or expires within 30 days. Health is
 * anonymous, so a warning names the integration by id only (no title, nothing about the secret but
 * its expiry date).
 */
export function expiryWarnings(items: ExpiryInput[], now: number): HealthWarning[] {
  const out: HealthWarning[] = [];
  for (const item of items) {
    const days = daysUntil(item.secretExpiresOn, now);
    if (days === null || days > EXPIRY_WARNING_DAYS) continue;
    const expired = Date.parse(item.secretExpiresOn as string) <= now;
    const cert = item.credentialKind === 'certificate';
    const what = cert ? 'certificate' : 'client secret';
    const fix = cert ? 'add a new certificate as its second credential' : 'rotate it';
    out.push({
      code: cert
        ? expired
          ? 'integration_certificate_expired'
          : 'integration_certificate_expiring'
        : expired
          ? 'integration_secret_expired'
          : 'integration_secret_expiring',
      message: expired
        ? `The ${what} of integration ${item.id} has expired; ${fix}.`
        : `The ${what} of integration ${item.id} expires in ${days} day(s); ${fix} before then.`,
      integrationId: item.id,
      expiresOn: item.secretExpiresOn,
      daysLeft: days,
    });
  }
  return out.sort((a, b) => (a.daysLeft as number) - (b.daysLeft as number));
}
