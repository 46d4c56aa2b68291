/**
 * What the two leased queues, deliveries and jobs, have in common: rows wait
 * until due, are held under a lease while worked on, and end finished with a
 * `completed_at` (succeeded, failed or cancelled). Each queue keeps its own
 * statements (delivery/queue, jobs/queue.ts); these are the shared ones.
 */
import { sql } from 'kysely';
import type { Executor } from './schema.js';

/** The earliest of the given times (epoch ms), or null if none is a number. */
export function earliest(...times: unknown[]): number | null {
  const set = times.filter((t): t is number => typeof t === 'number');
  return set.length > 0 ? Math.min(...set) : null;
}

/**
 * Deletes up to `batchSize` finished rows of `table` completed before
 * `before`; returns how many (deliveries take their attempts with them, by
 * cascade). Batches keep each statement short under SQLite's single writer.
 */
export async function pruneFinishedRows(
  db: Executor,
  table: 'deliveries' | 'jobs',
  before: number,
  batchSize: number,
): Promise<number> {
  const t = sql.table(table);
  const result = await sql`
    delete from ${t} where id in (
      select id from ${t}
      where status in ('succeeded', 'failed', 'cancelled') and completed_at < ${before}
      limit ${batchSize}
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
