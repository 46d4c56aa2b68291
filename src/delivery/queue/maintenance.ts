/** Queue housekeeping: giving claims back, when to wake next, pruning, and gauges for /metrics. */
import { earliest, pruneFinishedRows } from '../../db/queue-rows.js';
import type { Executor } from '../../db/schema.js';
import { DELIVERING, PENDING } from './states.js';

/** On shutdown: deliveries this worker claimed but never attempted go back to pending, due now. */
export async function releaseClaims(
  db: Executor,
  owner: string,
  ids: readonly string[],
  now: number,
): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('deliveries')
    .set({ status: 'pending', lease_owner: null, lease_until: null, updated_at: now })
    .where('id', 'in', ids)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'delivering')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * The earliest time any delivery becomes claimable: a due retry or a lease
 * running out. Pending deliveries of `excludeWebhookIds` (webhooks the caller
 * cannot take more of right now) are left out: their being due must not hide
 * when the next other one is.
 */
export async function nextWakeAt(
  db: Executor,
  excludeWebhookIds: readonly string[] = [],
): Promise<number | null> {
  const pending = await db
    .selectFrom('deliveries')
    .select('next_attempt_at')
    .where('status', '=', PENDING)
    .$if(excludeWebhookIds.length > 0, (q) => q.where('webhook_id', 'not in', excludeWebhookIds))
    .orderBy('next_attempt_at')
    .limit(1)
    .executeTakeFirst();
  const lease = await db
    .selectFrom('deliveries')
    .select('lease_until')
    .where('status', '=', DELIVERING)
    .orderBy('lease_until')
    .limit(1)
    .executeTakeFirst();
  return earliest(pending?.next_attempt_at, lease?.lease_until);
}

/** Deletes finished deliveries (and, by cascade, their attempts) completed before `before`. */
export function pruneFinished(db: Executor, before: number, batchSize = 1000): Promise<number> {
  return pruneFinishedRows(db, 'deliveries', before, batchSize);
}

export interface QueueStats {
  pending: number;
  /** Seconds since the oldest due pending delivery became due; 0 when none is due. */
  oldestDueAgeSeconds: number;
}

export async function queueStats(db: Executor, now: number): Promise<QueueStats> {
  const count = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', PENDING)
    .executeTakeFirstOrThrow();
  const oldest = await db
    .selectFrom('deliveries')
    .select('next_attempt_at')
    .where('status', '=', PENDING)
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .limit(1)
    .executeTakeFirst();
  const dueAt = oldest?.next_attempt_at;
  return {
    pending: Number(count.n),
    oldestDueAgeSeconds: typeof dueAt === 'number' ? Math.max(0, (now - dueAt) / 1000) : 0,
  };
}
