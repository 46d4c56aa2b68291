/**
 * The worker's side of leases: giving claims back before their lease runs
 * out, and asking when the next delivery becomes claimable (a due retry or a
 * lease running out), so that the loop sleeps until then.
 */
import { earliest } from '../../db/queue-rows.js';
import type { Executor } from '../../db/schema.js';
import { notHeldBack } from './ordering.js';
import { DELIVERING, PENDING } from './states.js';

/**
 * Deliveries this worker claimed but never attempted (or gives up on) go back
 * to pending, due now, so another pass takes them at once instead of waiting
 * for the lease.
 */
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
    .selectFrom('deliveries as d')
    .select('next_attempt_at')
    .where('status', '=', PENDING)
    // Due rows held back by their ticket's order wake nothing: what frees them
    // is their predecessor's outcome, or its retry, which is itself pending.
    .where(notHeldBack('d'))
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
