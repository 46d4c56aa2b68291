/**
 * Recording an attempt and deciding what happens next (SPEC §6.4–6.6), in
 * one transaction: the attempt row, the delivery's new state (succeeded, a
 * retry scheduled from the webhook's policy, failed, or cancelled), the
 * webhook's consecutive-failure count, and — at the threshold — disabling the
 * webhook, cancelling its pending deliveries and notifying its admins once.
 *
 * `recordOutcomes` records many attempts in one transaction (the worker's
 * batches), with the same result as `recordOutcome` on each in turn.
 */
import { sql, type Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import { dialectOf } from '../../db/registry.js';
import type { Database, DeliveryAttemptsTable, DeliveryStatus, Executor } from '../../db/schema.js';
import { newId } from '../../ids.js';
import { notifyAdmins } from '../../notifications/notifications.js';
import type { AttemptResult } from '../sender.js';
import type { ClaimedDelivery } from './claim.js';
import { cancelPendingDeliveries } from './commands.js';

/** Failed attempts in a row after which a webhook is disabled. */
export const DISABLE_AFTER_CONSECUTIVE_FAILURES = 10;

export interface DisabledWebhook {
  webhookId: string;
  organizationId: string;
  name: string;
  url: string;
  lastError: string;
  recipients: { email: string }[];
}

export interface Outcome {
  /** False when this worker no longer held the lease; nothing was written. */
  recorded: boolean;
  status: DeliveryStatus;
  attemptNumber: number;
  nextAttemptAt: number | null;
  disabled: DisabledWebhook | null;
}

export function describeFailure(attempt: AttemptResult): string {
  if (attempt.error) return `${attempt.error.code}: ${attempt.error.message}`;
  return `HTTP ${attempt.statusCode ?? '?'}`;
}

export async function recordOutcome(
  trx: Executor,
  clock: Clock,
  delivery: ClaimedDelivery,
  owner: string,
  attempt: AttemptResult,
): Promise<Outcome> {
  const now = clock.now();
  const current = await trx
    .selectFrom('deliveries')
    .select(['status', 'lease_owner', 'attempt_count', 'attempts_allowed'])
    .where('id', '=', delivery.id)
    .executeTakeFirst();
  if (!current || current.status !== 'delivering' || current.lease_owner !== owner) {
    return {
      recorded: false,
      status: current?.status ?? 'cancelled',
      attemptNumber: 0,
      nextAttemptAt: null,
      disabled: null,
    };
  }
  const webhook = await trx
    .selectFrom('webhooks')
    .select(['active', 'retry_policy', 'name', 'url'])
    .where('id', '=', delivery.webhook_id)
    .executeTakeFirstOrThrow();
  const number = current.attempt_count + 1;
  await trx
    .insertInto('delivery_attempts')
    .values(attemptRow(delivery.id, number, attempt))
    .execute();

  const policy = JSON.parse(webhook.retry_policy) as number[];
  let status: DeliveryStatus;
  let nextAttemptAt: number | null = null;
  if (attempt.success) status = 'succeeded';
  // A disabled webhook's retries are cancelled; a test of one still reports `failed`.
  else if (webhook.active !== 1 && delivery.is_test !== 1) status = 'cancelled';
  else if (number < current.attempts_allowed && policy.length > 0) {
    status = 'pending';
    nextAttemptAt = now + policy[Math.min(number - 1, policy.length - 1)]! * 1000;
  } else status = 'failed';

  const finished = status !== 'pending';
  await trx
    .updateTable('deliveries')
    .set({
      status,
      attempt_count: number,
      next_attempt_at: nextAttemptAt,
      lease_owner: null,
      lease_until: null,
      completed_at: finished ? now : null,
      updated_at: now,
    })
    .where('id', '=', delivery.id)
    .execute();

  // Test deliveries never count toward the failure streak (SPEC §5).
  let disabled: DisabledWebhook | null = null;
  if (delivery.is_test !== 1) {
    if (attempt.success) {
      await trx
        .updateTable('webhooks')
        .set({ consecutive_failures: 0, last_delivery_at: now })
        .where('id', '=', delivery.webhook_id)
        .execute();
    } else {
      const counted = await trx
        .updateTable('webhooks')
        .set((eb) => ({
          consecutive_failures: eb('consecutive_failures', '+', 1),
          last_delivery_at: now,
        }))
        .where('id', '=', delivery.webhook_id)
        .returning(['consecutive_failures', 'active'])
        .executeTakeFirstOrThrow();
      if (
        counted.active === 1 &&
        counted.consecutive_failures >= DISABLE_AFTER_CONSECUTIVE_FAILURES
      ) {
        disabled = await disableWebhook(trx, clock, delivery, webhook, describeFailure(attempt));
      }
    }
  }
  return { recorded: true, status, attemptNumber: number, nextAttemptAt, disabled };
}

function attemptRow(
  deliveryId: string,
  number: number,
  attempt: AttemptResult,
): DeliveryAttemptsTable {
  return {
    id: newId(),
    delivery_id: deliveryId,
    number,
    started_at: attempt.startedAt,
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    response_headers: attempt.responseHeaders ? JSON.stringify(attempt.responseHeaders) : null,
    response_body: attempt.responseBody,
    response_body_truncated: attempt.responseBodyTruncated ? 1 : 0,
    error_code: attempt.error?.code ?? null,
    error_message: attempt.error?.message ?? null,
  };
}

export interface AttemptToRecord {
  delivery: ClaimedDelivery;
  attempt: AttemptResult;
}

/** Most attempts one batch takes (bounds statement size). */
export const MAX_OUTCOME_BATCH = 256;

/**
 * With data-modifying CTEs (PostgreSQL, where every statement is a network
 * round trip) the common case is written in one statement. SQLite runs
 * in-process (a statement costs no round trip) and has none.
 */
const oneStatement = (db: Executor) => dialectOf(db).capabilities.writableCte;

/** Successes of webhooks with no failure in the batch (`fast`) and everything else (`slow`). */
function partition(items: readonly AttemptToRecord[]): { fast: number[]; slow: number[] } {
  const failing = new Set(
    items.filter((i) => !i.attempt.success).map((i) => i.delivery.webhook_id),
  );
  const fast: number[] = [];
  const slow: number[] = [];
  items.forEach((item, index) => (failing.has(item.delivery.webhook_id) ? slow : fast).push(index));
  return { fast, slow };
}

/**
 * Records a batch of attempts atomically and durably; the outcomes come back
 * in the order given. On PostgreSQL a batch of successes only is one
 * statement (one round trip, no BEGIN/COMMIT); anything else is one
 * transaction (`recordOutcomes`).
 */
export async function recordOutcomeBatch(
  db: Kysely<Database>,
  clock: Clock,
  owner: string,
  items: readonly AttemptToRecord[],
): Promise<Outcome[]> {
  if (partition(items).slow.length === 0 && oneStatement(db)) {
    return recordOutcomes(db, clock, owner, items);
  }
  return db.transaction().execute((trx) => recordOutcomes(trx, clock, owner, items));
}

/**
 * Records many attempts; call it in a transaction (unless they are all
 * successes of webhooks with no failure in the batch, on PostgreSQL: one
 * statement). The outcomes come back in the order given, and are the ones
 * `recordOutcome` would give on each item in that order:
 *
 * - Successes of webhooks with no failure in the batch (the common case):
 *   every delivery this worker still holds becomes `succeeded`, their
 *   attempts are written, and those webhooks' failure streaks reset — three
 *   statements in all on SQLite, one on PostgreSQL. A success needs nothing
 *   from the webhook row (it succeeds even if the webhook was disabled meanwhile).
 * - A webhook with any failure in the batch has its items recorded one by one
 *   by `recordOutcome`, in order: the streak, disabling and notifying stay
 *   exactly as they are for single attempts.
 *
 * Where writers are concurrent (PostgreSQL), webhook rows are always locked in
 * id order before any other webhook lock is taken, so batches of different
 * workers never deadlock.
 */
export async function recordOutcomes(
  db: Executor,
  clock: Clock,
  owner: string,
  items: readonly AttemptToRecord[],
): Promise<Outcome[]> {
  if (items.length > MAX_OUTCOME_BATCH)
    throw new RangeError(`at most ${MAX_OUTCOME_BATCH} outcomes per batch`);
  const outcomes = new Array<Outcome>(items.length);
  const { fast, slow } = partition(items);

  if (slow.length > 0 && dialectOf(db).capabilities.concurrentWriters) {
    const webhookIds = [...new Set(items.map((i) => i.delivery.webhook_id))].sort();
    if (webhookIds.length > 1) {
      await db
        .selectFrom('webhooks')
        .select('id')
        .where('id', 'in', webhookIds)
        .orderBy('id')
        // Not FOR UPDATE: that conflicts with the FOR KEY SHARE lock a deliveries
        // insert takes on its webhook (the foreign key), in no particular order,
        // and deadlocked with ticket creation (1 request in ~1,000 answered 500).
        .forNoKeyUpdate()
        .execute();
    }
  }

  if (fast.length > 0) {
    const now = clock.now();
    const recorded = oneStatement(db)
      ? await recordSuccessesInOneStatement(db, now, owner, items, fast)
      : await recordSuccesses(db, now, owner, items, fast);
    const lost: number[] = [];
    for (const i of fast) {
      const number = recorded.get(items[i]!.delivery.id);
      if (number === undefined) lost.push(i);
      else
        outcomes[i] = {
          recorded: true,
          status: 'succeeded',
          attemptNumber: number,
          nextAttemptAt: null,
          disabled: null,
        };
    }
    if (lost.length > 0) {
      // No longer this worker's (lease expired and taken, or cancelled): nothing was written.
      const current = await db
        .selectFrom('deliveries')
        .select(['id', 'status'])
        .where(
          'id',
          'in',
          lost.map((i) => items[i]!.delivery.id),
        )
        .execute();
      const status = new Map(current.map((r) => [r.id, r.status]));
      for (const i of lost) {
        outcomes[i] = {
          recorded: false,
          status: status.get(items[i]!.delivery.id) ?? 'cancelled',
          attemptNumber: 0,
          nextAttemptAt: null,
          disabled: null,
        };
      }
    }
  }

  for (const i of slow) {
    const { delivery, attempt } = items[i]!;
    outcomes[i] = await recordOutcome(db, clock, delivery, owner, attempt);
  }
  return outcomes;
}

/** The fast path in three statements; returns the attempt number of each delivery recorded. */
async function recordSuccesses(
  trx: Executor,
  now: number,
  owner: string,
  items: readonly AttemptToRecord[],
  fast: readonly number[],
): Promise<Map<string, number>> {
  const updated = await trx
    .updateTable('deliveries')
    .set((eb) => ({
      status: 'succeeded',
      attempt_count: eb('attempt_count', '+', 1),
      next_attempt_at: null,
      lease_owner: null,
      lease_until: null,
      completed_at: now,
      updated_at: now,
    }))
    .where(
      'id',
      'in',
      fast.map((i) => items[i]!.delivery.id),
    )
    .where('status', '=', 'delivering')
    .where('lease_owner', '=', owner)
    .returning(['id', 'attempt_count'])
    .execute();
  const numbers = new Map(updated.map((r) => [r.id, r.attempt_count]));
  const rows: DeliveryAttemptsTable[] = [];
  const hooks = new Set<string>();
  for (const i of fast) {
    const { delivery, attempt } = items[i]!;
    const number = numbers.get(delivery.id);
    if (number === undefined) continue;
    rows.push(attemptRow(delivery.id, number, attempt));
    // Test deliveries never count toward the failure streak (SPEC §5).
    if (delivery.is_test !== 1) hooks.add(delivery.webhook_id);
  }
  if (rows.length > 0) await trx.insertInto('delivery_attempts').values(rows).execute();
  if (hooks.size > 0) {
    await trx
      .updateTable('webhooks')
      .set({ consecutive_failures: 0, last_delivery_at: now })
      .where('id', 'in', [...hooks])
      .execute();
  }
  return numbers;
}

/**
 * The fast path as one PostgreSQL statement: the deliveries' UPDATE …
 * RETURNING feeds the attempts' INSERT and the webhooks' UPDATE (which locks
 * its rows in id order). Values travel as one array per column.
 */
async function recordSuccessesInOneStatement(
  db: Executor,
  now: number,
  owner: string,
  items: readonly AttemptToRecord[],
  fast: readonly number[],
): Promise<Map<string, number>> {
  const rows = fast.map((i) => attemptRow(items[i]!.delivery.id, 0, items[i]!.attempt));
  const col = <K extends keyof DeliveryAttemptsTable>(k: K) => rows.map((r) => r[k]);
  const result = await sql<{ id: string; attempt_count: number }>`
    with updated as (
      update deliveries
      set status = 'succeeded', attempt_count = attempt_count + 1, next_attempt_at = null,
        lease_owner = null, lease_until = null, completed_at = ${now}, updated_at = ${now}
      where id = any(${col('delivery_id')}::text[])
        and status = 'delivering' and lease_owner = ${owner}
      returning id, attempt_count, webhook_id, is_test
    ),
    attempts as (
      insert into delivery_attempts (id, delivery_id, number, started_at, duration_ms, status_code,
        response_headers, response_body, response_body_truncated, error_code, error_message)
      select a.id, a.delivery_id, u.attempt_count, a.started_at, a.duration_ms, a.status_code,
        a.response_headers, a.response_body, a.response_body_truncated, a.error_code, a.error_message
      from unnest(
        ${col('id')}::text[], ${col('delivery_id')}::text[], ${col('started_at')}::bigint[],
        ${col('duration_ms')}::integer[], ${col('status_code')}::integer[],
        ${col('response_headers')}::text[], ${col('response_body')}::text[],
        ${col('response_body_truncated')}::integer[], ${col('error_code')}::text[],
        ${col('error_message')}::text[]
      ) as a(id, delivery_id, started_at, duration_ms, status_code, response_headers,
        response_body, response_body_truncated, error_code, error_message)
      join updated u on u.id = a.delivery_id
    ),
    streaks as (
      update webhooks set consecutive_failures = 0, last_delivery_at = ${now}
      where id in (
        select id from webhooks
        where id in (select webhook_id from updated where is_test <> 1)
        order by id
        for no key update
      )
    )
    select id, attempt_count from updated
  `.execute(db);
  return new Map(result.rows.map((r) => [r.id, Number(r.attempt_count)]));
}

async function disableWebhook(
  trx: Executor,
  clock: Clock,
  delivery: ClaimedDelivery,
  webhook: { name: string; url: string },
  lastError: string,
): Promise<DisabledWebhook | null> {
  const now = clock.now();
  const result = await trx
    .updateTable('webhooks')
    .set({ active: 0, disabled_at: now, disabled_reason: 'consecutive_failures', updated_at: now })
    .where('id', '=', delivery.webhook_id)
    .where('active', '=', 1)
    .executeTakeFirst();
  // Only the transaction that flips `active` notifies: admins hear of it once.
  if (Number(result.numUpdatedRows) !== 1) return null;
  await cancelPendingDeliveries(trx, delivery.webhook_id, now);
  const recipients = await notifyAdmins(trx, clock, delivery.organization_id, {
    type: 'webhook_disabled',
    title: `Webhook "${webhook.name}" was disabled`,
    body: `After ${DISABLE_AFTER_CONSECUTIVE_FAILURES} consecutive failed deliveries to ${webhook.url}, the webhook was disabled and its pending deliveries cancelled. Last error: ${lastError}. Set it active again to resume.`,
    data: { webhookId: delivery.webhook_id, url: webhook.url, lastError },
  });
  return {
    webhookId: delivery.webhook_id,
    organizationId: delivery.organization_id,
    name: webhook.name,
    url: webhook.url,
    lastError,
    recipients: recipients.map((r) => ({ email: r.email })),
  };
}
