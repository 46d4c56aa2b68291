/** Pruning finished deliveries, for the retention pass. */
import { pruneFinishedRows } from '../../db/queue-rows.js';
import type { Executor } from '../../db/schema.js';

/** Deletes finished deliveries (and, by cascade, their attempts) completed before `before`. */
export function pruneFinished(db: Executor, before: number, batchSize = 1000): Promise<number> {
  return pruneFinishedRows(db, 'deliveries', before, batchSize);
}
