/**
 * Claiming due deliveries (docs/operations.md, "Claiming and leases"). One
 * statement marks up to `limit` due rows `delivering` under this worker's lease
 * and returns them: pending rows whose time has come, and rows whose previous
 * lease expired (their worker died mid-attempt).
 *
 * - Where the dialect can (`skipLocked`), rows another worker is claiming are
 *   skipped, so N workers never take the same delivery.
 * - At most `perWebhook` rows per webhook per claim, and webhooks this worker
 *   already saturates are skipped, so one slow endpoint cannot fill every slot.
 * - The candidate scan reads at most `window` rows from each index range, so a
 *   million-row backlog costs the same per claim as a small one.
 * - A delivery of a webhook with per-ticket ordering (its `order_key` is set,
 *   docs/webhooks.md "Ordered delivery") is not a candidate while an earlier
 *   one of the same key and webhook is pending or in flight: one index probe
 *   (migration 0010's partial index, unfinished ordered rows only), and none
 *   at all for unordered deliveries. Under PostgreSQL's snapshot a finished
 *   predecessor may still look unfinished, which only delays its successor
 *   to the next claim: two of one key are never in flight together.
 */
import { sql } from 'kysely';
import { dialectOf } from '../../db/registry.js';
import { deliveryBody } from './body.js';
import { notHeldBack } from './ordering.js';
import type { DeliveriesTable, Executor, WebhooksTable } from '../../db/schema.js';

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
  | 'rate_slot'
  // For a rate-limited delivery put back to wait (rate_slot 1): the start it was given.
  | 'next_attempt_at'
>;

export async function claimDueDeliveries(
  db: Executor,
  o: ClaimOptions,
): Promise<ClaimedDelivery[]> {
  if (o.limit <= 0) return [];
  const { ctes, update } = claimStatement(db, o);
  const result = await sql<ClaimedDelivery>`with ${ctes} ${update}`.execute(db);
  return result.rows;
}

/** What an attempt needs from its webhook, read with the claim. */
export type ClaimedWebhook = Pick<
  WebhooksTable,
  | 'id'
  | 'url'
  | 'secret'
  | 'headers'
  | 'active'
  | 'previous_secret'
  | 'previous_secret_expires_at'
  | 'rate_limit_per_second'
>;

const HOOK_COLUMNS = [
  'id',
  'url',
  'secret',
  'headers',
  'active',
  'previous_secret',
  'previous_secret_expires_at',
  'rate_limit_per_second',
] as const satisfies readonly (keyof ClaimedWebhook)[];

export interface Claim {
  deliveries: ClaimedDelivery[];
  /** The claimed deliveries' webhooks by id; a webhook deleted meanwhile is missing. */
  webhooks: Map<string, ClaimedWebhook>;
}

/**
 * A claim and the claimed deliveries' webhooks. With data-modifying CTEs
 * (PostgreSQL) this is one statement, one round trip; on SQLite, the claim
 * and then one read.
 */
export async function claimWithWebhooks(db: Executor, o: ClaimOptions): Promise<Claim> {
  if (o.limit <= 0) return { deliveries: [], webhooks: new Map() };
  if (!dialectOf(db).capabilities.writableCte) {
    const deliveries = await claimDueDeliveries(db, o);
    if (deliveries.length === 0) return { deliveries, webhooks: new Map() };
    const hooks = await db
      .selectFrom('webhooks')
      .select(HOOK_COLUMNS)
      .where('id', 'in', [...new Set(deliveries.map((d) => d.webhook_id))])
      .execute();
    return { deliveries, webhooks: new Map(hooks.map((h) => [h.id, h])) };
  }
  const { ctes, update } = claimStatement(db, o);
  // The webhook's columns come back prefixed (hook_url, …) beside the delivery's.
  const hookColumns = sql.join(
    HOOK_COLUMNS.map((c) => sql`w.${sql.ref(c)} as ${sql.ref(`hook_${c}`)}`),
  );
  const result = await sql<ClaimedDelivery & Record<`hook_${keyof ClaimedWebhook}`, unknown>>`
    with ${ctes}, claimed as (${update})
    select claimed.*, ${hookColumns}
    from claimed left join webhooks w on w.id = claimed.webhook_id
  `.execute(db);
  const deliveries: ClaimedDelivery[] = [];
  const webhooks = new Map<string, ClaimedWebhook>();
  for (const r of result.rows) {
    const delivery: Record<string, unknown> = {};
    const hook: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(r)) {
      if (key.startsWith('hook_')) hook[key.slice(5)] = value;
      else delivery[key] = value;
    }
    deliveries.push(delivery as ClaimedDelivery);
    if (hook.id !== null) webhooks.set(hook.id as string, hook as ClaimedWebhook);
  }
  return { deliveries, webhooks };
}

function claimStatement(db: Executor, o: ClaimOptions) {
  const window = o.window ?? Math.max(64, o.limit * 4);
  const exclude =
    o.excludeWebhookIds.length > 0
      ? sql`and webhook_id not in (${sql.join(o.excludeWebhookIds)})`
      : sql``;
  const lock = dialectOf(db).capabilities.skipLocked ? sql`for update skip locked` : sql``;
  const ctes = sql`
    due as (
      select id, webhook_id, next_attempt_at from (
        select id, webhook_id, next_attempt_at from deliveries d
        where status = 'pending' and next_attempt_at <= ${o.now} ${exclude}
          and ${notHeldBack('d')}
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
    )`;
  const update = sql`
    update deliveries
    set status = 'delivering', lease_owner = ${o.owner}, lease_until = ${o.now + o.leaseMs}, updated_at = ${o.now}
    where id in (
      select id from deliveries
      where id in (select id from picked)
        and ((status = 'pending' and next_attempt_at <= ${o.now}) or (status = 'delivering' and lease_until <= ${o.now}))
      ${lock}
    )
    returning id, organization_id, webhook_id, event_id, event_type, ${deliveryBody()} as payload,
      attempt_count, attempts_allowed, is_test, rate_slot, next_attempt_at`;
  return { ctes, update };
}
