/**
 * SLA policies per organization, and the SLA state a ticket carries: targets
 * used, when the resolution clock started, pauses, and when warnings and
 * breaches fired (so each fires once per due time).
 */
import type { Migration } from './index.js';

export const sla: Migration = {
  name: '0006_sla',
  async up(db, t) {
    await db.schema
      .createTable('sla_policies')
      .addColumn('organization_id', t.id, (c) =>
        c.primaryKey().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('warning_percent', t.int, (c) => c.notNull())
      .addColumn('priorities', t.json, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .execute();
    const columns: [string, 'int' | 'timestamp'][] = [
      ['first_response_target_min', 'int'],
      ['resolution_target_min', 'int'],
      ['resolution_started_at', 'timestamp'],
      ['resolution_paused_at', 'timestamp'],
      ['first_response_warned_at', 'timestamp'],
      ['first_response_breached_at', 'timestamp'],
      ['resolution_warned_at', 'timestamp'],
      ['resolution_breached_at', 'timestamp'],
    ];
    // SQLite adds one column per ALTER TABLE.
    for (const [name, type] of columns) {
      await db.schema.alterTable('tickets').addColumn(name, t[type]).execute();
    }
    await db.schema
      .alterTable('tickets')
      .addColumn('resolution_paused_ms', t.bigint, (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
