/**
 * Background jobs other than webhook deliveries (ticket email sends, SLA
 * timers): rows claimed under a lease exactly like deliveries, so they survive
 * restarts and run once with many workers.
 */
import type { Migration } from './index.js';

export const jobs: Migration = {
  name: '0003_jobs',
  async up(db, t) {
    await db.schema
      .createTable('jobs')
      .addColumn('id', t.id, (c) => c.primaryKey())
      .addColumn('organization_id', t.id, (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('kind', t.text, (c) => c.notNull())
      // Unique when set: enqueueing the same key twice keeps one job (timers, idempotent sends).
      .addColumn('key', t.text, (c) => c.unique())
      .addColumn('payload', t.json, (c) => c.notNull())
      .addColumn('status', t.text, (c) => c.notNull())
      .addColumn('attempt_count', t.int, (c) => c.notNull().defaultTo(0))
      .addColumn('max_attempts', t.int, (c) => c.notNull())
      .addColumn('run_at', t.timestamp, (c) => c.notNull())
      .addColumn('lease_owner', t.text)
      .addColumn('lease_until', t.timestamp)
      .addColumn('last_error', t.text)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addColumn('completed_at', t.timestamp)
      .execute();
    await db.schema.createIndex('jobs_due_idx').on('jobs').columns(['status', 'run_at']).execute();
    await db.schema
      .createIndex('jobs_lease_idx')
      .on('jobs')
      .columns(['status', 'lease_until'])
      .execute();
  },
};
