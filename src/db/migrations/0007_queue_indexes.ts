/**
 * The delivery queue's indexes hold only the rows they serve: pending rows
 * by due time, delivering rows by lease expiry, finished rows by completion
 * time (for retention). Before, every delivery ever made stayed in the first
 * two as `('succeeded', null)` entries, so the claim's index grew with the
 * history, and every status change moved entries within all three.
 *
 * Queries that should use them compare `status` with a literal, not a bound
 * parameter (see delivery/queue/states.ts).
 */
import { sql } from 'kysely';
import type { Migration } from './index.js';

export const queueIndexes: Migration = {
  name: '0007_queue_indexes',
  async up(db) {
    for (const name of ['deliveries_due_idx', 'deliveries_lease_idx', 'deliveries_completed_idx'])
      await db.schema.dropIndex(name).execute();
    await db.schema
      .createIndex('deliveries_due_idx')
      .on('deliveries')
      .column('next_attempt_at')
      .where(sql.ref('status'), '=', sql.lit('pending'))
      .execute();
    await db.schema
      .createIndex('deliveries_lease_idx')
      .on('deliveries')
      .column('lease_until')
      .where(sql.ref('status'), '=', sql.lit('delivering'))
      .execute();
    await db.schema
      .createIndex('deliveries_completed_idx')
      .on('deliveries')
      .column('completed_at')
      .where(sql.ref('completed_at'), 'is not', null)
      .execute();
  },
};
