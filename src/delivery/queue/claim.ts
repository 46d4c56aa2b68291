/**
 * Claiming due deliveries (SPEC §6.7, §6.9). One statement marks up to
 * `limit` due rows `delivering` under this worker's lease and returns them:
 * pending rows whose time has come, and rows whose previous lease expired
 * (their worker died mid-attempt).
 *
 * - Where the dialect can (`skipLocked`), rows another worker is claiming are
 *   skipped, so N workers never take the same delivery.
 * - At most `perWebhook` rows per webhook per claim, and webhooks this worker
 *   already saturates are skipped, so one slow endpoint cannot fill every slot.
 * - The candidate scan reads at most `window` rows from each index range, so a
 *   million-row backlog costs the same per claim as a small one.
 */
import { sql } from 'kysely';
import { dialectOf } from '../../db/registry.js';
import type { DeliveriesTable, Executor } from '../../db/schema.js';

export interface ClaimOptions {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
  perWebhook: number;
  excludeWebhookIds: readonly string[];
  window?: number;
}

/** The columns a claim returns: what an attempt and its outcome need. */
export type ClaimedDelivery = Pick<
  DeliveriesTable,
  | 'id'
  | 'organization_id'
  | 'webhook_id'
  | 'event_id'
  | 'event_type'
  | 'payload'
  | 'attempt_count'
  | 'attempts_allowed'
  | 'is_test'
>;

export async function claimDueDeliveries(
  db: Executor,
  o: ClaimOptions,
): Promise<ClaimedDelivery[]> {
  if (o.limit <= 0) return [];
  const window = o.window ?? Math.max(200, o.limit * 4);
  const exclude =
    o.excludeWebhookIds.length > 0
      ? sql`and webhook_id not in (${sql.join(o.excludeWebhookIds)})`
      : sql``;
  const lock = dialectOf(db).capabilities.skipLocked ? sql`for update skip locked` : sql``;
  const result = await sql<ClaimedDelivery>`
    with due as (
      select id, webhook_id, next_attempt_at from (
        select id, webhook_id, next_attempt_at from deliveries
        where status = 'pending' and next_attempt_at <= ${o.now} ${exclude}
        order by next_attempt_at limit ${window}
      ) pending_rows
      union all
      select id, webhook_id, next_attempt_at from (
        select id, webhook_id, next_attempt_at from deliveries
        where status = 'delivering' and lease_until <= ${o.now} ${exclude}
        order by lease_until limit ${window}
      ) expired_rows
    ),
    ranked as (
      select id, next_attempt_at,
        row_number() over (partition by webhook_id order by next_attempt_at, id) as rn
      from due
    ),
    picked as (
      select id from ranked where rn <= ${o.perWebhook} order by next_attempt_at, id limit ${o.limit}
    )
    update deliveries
    set status = 'delivering', lease_owner = ${o.owner}, lease_until = ${o.now + o.leaseMs}, updated_at = ${o.now}
    where id in (
      select id from deliveries
      where id in (select id from picked)
        and ((status = 'pending' and next_attempt_at <= ${o.now}) or (status = 'delivering' and lease_until <= ${o.now}))
      ${lock}
    )
    returning id, organization_id, webhook_id, event_id, event_type, payload, attempt_count, attempts_allowed, is_test
  `.execute(db);
  return result.rows;
}
