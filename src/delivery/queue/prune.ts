/** Pruning finished deliveries and old events, for the retention pass. */
import { sql } from 'kysely';
import { pruneFinishedRows } from '../../db/queue-rows.js';
import type { Executor } from '../../db/schema.js';

/** Deletes finished deliveries (and, by cascade, their attempts) completed before `before`. */
export function pruneFinished(db: Executor, before: number, batchSize = 1000): Promise<number> {
  return pruneFinishedRows(db, 'deliveries', before, batchSize);
}

/**
 * Deletes up to `batchSize` events created before `before` that no delivery
 * refers to any more; returns how many. Deliveries refer to their event by
 * `event_id` without a foreign key, and most read their body from the
 * event's row (./body.ts), so an event goes only after the last of its
 * deliveries: the retention pass prunes deliveries first, and an event whose
 * delivery is still retrying, or finished within the retention, waits for it.
 * Events older than the retention cannot be recovered anyway (the API
 * refuses such a `since`).
 */
export async function pruneEvents(db: Executor, before: number, batchSize = 1000): Promise<number> {
  // events_created_idx finds the old ones; deliveries_event_idx answers the NOT EXISTS.
  const result = await sql`
    delete from events where id in (
      select e.id from events e
      where e.created_at < ${before}
        and not exists (select 1 from deliveries d where d.event_id = e.id)
      limit ${batchSize}
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
