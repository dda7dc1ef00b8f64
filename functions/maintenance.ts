import { app } from '@azure/functions';
import { purgeExpired } from '../shared/ops/maintenance.ts';
import { getServices } from '../shared/web/runtime.ts';

// Every 30 minutes: remove expired login transactions, sessions, idle throttle counters and the OP's
// expired rows.
app.timer('maintenance-purge', {
  schedule: '0 */30 * * * *',
  handler: async () => {
    const { tables, clock, log } = getServices();
    await purgeExpired(tables, clock, log);
  },
});
