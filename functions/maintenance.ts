import { app } from '@azure/functions';
import { purgeExpired } from '../shared/ops/maintenance.ts';
import { getServices } from '../shared/web/runtime.ts';

// Every 30 minutes: remove expired login transactions, sessions, idle throttle counters and the OP's
// expired rows; queue the back-channel logouts of sessions that ended unnoticed and deliver every
// logout still owed (those an instance could not finish, retries due).
app.timer('maintenance-purge', {
  schedule: '0 */30 * * * *',
  handler: async () => {
    const { tables, clock, log, oidc, logoutQueue } = getServices();
    try {
      await purgeExpired(tables, clock, log, (username, sessionId) =>
        logoutQueue.sessionEnded(username, sessionId),
      );
    } finally {
      await oidc.logouts.drain();
    }
  },
});
