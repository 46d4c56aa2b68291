/**
 * Per-ticket ordering in queue queries (docs/webhooks.md, "Ordered
 * delivery"): a pending delivery with an `order_key` is held back while an
 * earlier delivery of the same key and webhook is pending or in flight, or
 * while any other of them is in flight (one queued again may be older). The
 * claim (./claim.ts) takes only deliveries this lets through, and the next
 * wake-up (./leases.ts) looks only at them, or a worker would wake for due
 * rows it may not take and sleep through the retry that frees them.
 */
import { sql, type RawBuilder } from 'kysely';

/**
 * True for a delivery (the row aliased `alias`) that nothing holds back: an
 * unordered one costs nothing; an ordered one, one probe of migration
 * 0010's partial index, whose predicate is repeated here as the index has
 * it so that both planners use it.
 */
export function notHeldBack(alias: string): RawBuilder<boolean> {
  const col = (name: string) => sql.ref(`${alias}.${name}`);
  return sql<boolean>`(${col('order_key')} is null or not exists (
    select 1 from deliveries earlier
    where earlier.webhook_id = ${col('webhook_id')} and earlier.order_key = ${col('order_key')}
      -- an earlier one unfinished, or any other in flight: a delivery queued
      -- again (a recovery, a manual retry) must not overtake the one on the wire
      and (earlier.id < ${col('id')} or (earlier.status = 'delivering' and earlier.id <> ${col('id')}))
      and earlier.order_key is not null and earlier.status in ('pending', 'delivering')
  ))`;
}
