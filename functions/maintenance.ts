import { app } from '@azure/functions';
import { purgeAuditMonths } from '../shared/audit/retention.ts';
import { purgeExpired } from '../shared/ops/maintenance.ts';
import { getServices } from '../shared/web/runtime.ts';

// Every 30 minutes: remove expired login transactions, sessions, idle throttle counters and the OP's
// expired rows (queueing the back-channel logouts of sessions that ended unnoticed); write the
// anonymous-failure summaries counted so far; delete audit months past the retention setting; then
// deliver every logout still owed (those an instance could not finish, retries due).
app.timer('maintenance-purge', {
  schedule: '0 */30 * * * *',
  handler: async () => {
    const { tables, clock, log, settings, auditNoise, oidc, logoutQueue } = getServices();
    let results: PromiseSettledResult<unknown>[];
    try {
      results = await Promise.allSettled([
        purgeExpired(tables, clock, log, (username, sessionId) =>
          logoutQueue.sessionEnded(username, sessionId),
        ),
        auditNoise.flush(),
        settings.get().then((s) => purgeAuditMonths(tables.auditEvents, clock, s.auditRetentionDays, log)),
      ]);
    } finally {
      await oidc.logouts.drain();
    }
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  },
});
