import { app } from '@azure/functions';
import { migrateBindings, migrateUsers, purgeExpired } from '../shared/ops/maintenance.ts';
import { getServices } from '../shared/web/runtime.ts';

// Every 30 minutes: remove expired login transactions, sessions and idle throttle counters; move user
// rows and UserBindings rows left in their legacy partitions (issue 12) until none is left.
app.timer('maintenance-purge', {
  schedule: '0 */30 * * * *',
  handler: async () => {
    const { tables, clock, log, users } = getServices();
    const [purge, migrate, migrateB] = await Promise.allSettled([
      purgeExpired(tables, clock, log),
      migrateUsers(users.store, log),
      migrateBindings(users.store, log),
    ]);
    if (migrate.status === 'rejected')
      log.error('maintenance.users_migration_failed', { error: migrate.reason });
    if (migrateB.status === 'rejected')
      log.error('maintenance.bindings_migration_failed', { error: migrateB.reason });
    if (purge.status === 'rejected') throw purge.reason;
    if (migrate.status === 'rejected') throw migrate.reason;
    if (migrateB.status === 'rejected') throw migrateB.reason;
  },
});
