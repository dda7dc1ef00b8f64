import { app } from '@azure/functions';
import { purgeExpired } from '../shared/maintenance.ts';
import { getServices } from '../shared/runtime.ts';

// Every 30 minutes: remove expired login transactions, sessions and idle throttle counters.
app.timer('maintenance-purge', {
  schedule: '0 */30 * * * *',
  handler: async () => {
    const { tables, clock, log } = getServices();
    await purgeExpired(tables, clock, log);
  },
});
