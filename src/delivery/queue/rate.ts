/**
 * The SQL of per-webhook rate limits (delivery/rate-limit.ts): in one
 * transaction, each limited webhook's schedule is read under its row lock
 * (so workers in other processes wait rather than hand out the same starts),
 * moved past the starts charged now, and the deliveries whose start is later
 * than the burst allows are put back `pending`, due at their start, with
 * `rate_slot` set (charged already). Deliveries that had a start reserved
 * and are now sent lose the flag, so a retry of theirs is charged afresh.
 */
import { dialectOf } from '../../db/registry.js';
import type { Executor } from '../../db/schema.js';
import { scheduleStarts, startsNow } from '../rate-schedule.js';

export interface RateCharge {
  webhookId: string;
  limitPerSecond: number;
  /** Claimed deliveries to charge now, in claim order. */
  charged: string[];
  /** Claimed deliveries whose start was reserved before (rate_slot = 1): they go now. */
  prepaid: string[];
}

/** Charges the claimed deliveries; returns those put back to wait, with their start. */
export async function chargeRateLimits(
  db: Executor,
  owner: string,
  now: number,
  charges: readonly RateCharge[],
): Promise<Map<string, number>> {
  const waiting = new Map<string, number>();
  const lockRows = dialectOf(db).capabilities.concurrentWriters;
  // Webhook rows are locked in id order, so two workers' charges never deadlock.
  const ordered = [...charges].sort((a, b) => (a.webhookId < b.webhookId ? -1 : 1));
  await db.transaction().execute(async (trx) => {
    for (const c of ordered) {
      if (c.prepaid.length > 0)
        await trx
          .updateTable('deliveries')
          .set({ rate_slot: 0 })
          .where('id', 'in', c.prepaid)
          .where('lease_owner', '=', owner)
          .execute();
      if (c.charged.length === 0) continue;
      const row = await trx
        .selectFrom('webhooks')
        .select('rate_next_at')
        .where('id', '=', c.webhookId)
        // No KEY: the outcome path's streak update on the same row must wait, not conflict.
        .$if(lockRows, (q) => q.forNoKeyUpdate())
        .executeTakeFirst();
      if (!row) continue; // deleted meanwhile: its deliveries went with it
      const { starts, next } = scheduleStarts(
        row.rate_next_at,
        now,
        c.limitPerSecond,
        c.charged.length,
      );
      await trx
        .updateTable('webhooks')
        .set({ rate_next_at: next })
        .where('id', '=', c.webhookId)
        .execute();
      for (const [i, id] of c.charged.entries()) {
        const start = starts[i]!;
        if (startsNow(start, now, c.limitPerSecond)) continue;
        await trx
          .updateTable('deliveries')
          .set({
            status: 'pending',
            lease_owner: null,
            lease_until: null,
            next_attempt_at: Math.ceil(start),
            rate_slot: 1,
            updated_at: now,
          })
          .where('id', '=', id)
          .where('lease_owner', '=', owner)
          .where('status', '=', 'delivering')
          .execute();
        waiting.set(id, Math.ceil(start));
      }
    }
  });
  return waiting;
}
