/**
 * Per-webhook rate limits (docs/webhooks.md, "Rate limits"): a webhook with
 * `rateLimitPerSecond` gets attempts started at that rate on average, across
 * every worker process, and never more than twice it within any one second.
 *
 * The limit is a schedule kept on the webhook's row (`rate_next_at`, the
 * generic cell rate algorithm's "theoretical arrival time"): each attempt
 * charged to the limit takes the next start on it, 1/limit apart. An attempt
 * whose start is within the burst tolerance goes now; a later one is put back
 * `pending`, due at its start, with `rate_slot` set so that it is not charged
 * again when it is claimed then. Waiting deliveries so hold no worker slot,
 * are not failed, and keep their order. The schedule is read and moved under
 * the webhook row's lock (queue/rate.ts), so two workers never hand out the
 * same start.
 *
 * How starts are handed out is in ./rate-schedule.ts.
 */
import type { Executor } from '../db/schema.js';
import type { ClaimedDelivery, ClaimedWebhook } from './queue/claim.js';
import { chargeRateLimits, type RateCharge } from './queue/rate.js';
import { lateForSlot } from './rate-schedule.js';

export interface Limited {
  /** What may be attempted now, in claim order. */
  send: ClaimedDelivery[];
  /** The earliest start given to a delivery put back to wait; null when none waits. */
  earliestDeferred: number | null;
  deferred: number;
}

/**
 * Applies the rate limits of the claimed deliveries' webhooks. Deliveries of
 * unlimited webhooks pass untouched and cost nothing (no statement runs
 * unless a limited webhook is in the claim).
 */
export async function applyRateLimits(
  db: Executor,
  owner: string,
  claimed: readonly ClaimedDelivery[],
  hooks: ReadonlyMap<string, ClaimedWebhook>,
  now: number,
): Promise<Limited> {
  const charges = new Map<string, RateCharge>();
  for (const d of claimed) {
    const limit = hooks.get(d.webhook_id)?.rate_limit_per_second ?? null;
    if (limit === null) continue;
    let charge = charges.get(d.webhook_id);
    if (!charge) {
      charge = { webhookId: d.webhook_id, limitPerSecond: limit, charged: [], prepaid: [] };
      charges.set(d.webhook_id, charge);
    }
    // A delivery put back with its start already taken is not charged twice,
    // unless it is claimed so late (a stalled or busy worker) that sending it
    // now could crowd the starts after it: then it takes a new start.
    const onTime =
      d.rate_slot === 1 &&
      d.next_attempt_at !== null &&
      !lateForSlot(d.next_attempt_at, now, limit);
    (onTime ? charge.prepaid : charge.charged).push(d.id);
  }
  if (charges.size === 0) return { send: [...claimed], earliestDeferred: null, deferred: 0 };
  const waiting = await chargeRateLimits(db, owner, now, [...charges.values()]);
  let earliestDeferred: number | null = null;
  for (const at of waiting.values())
    if (earliestDeferred === null || at < earliestDeferred) earliestDeferred = at;
  return {
    send: claimed.filter((d) => !waiting.has(d.id)),
    earliestDeferred,
    deferred: waiting.size,
  };
}
