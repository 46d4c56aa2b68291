/**
 * Recording an attempt and carrying out what follows
 * (docs/webhooks.md, "Retries"), in one transaction: the attempt row, the
 * delivery's new state (succeeded, a retry scheduled from the webhook's policy
 * or the receiver's `Retry-After`, failed, or cancelled), the webhook's
 * consecutive-failure count, and — at the threshold or on `410 Gone` —
 * disabling the webhook, cancelling its pending deliveries, notifying its
 * admins once and raising `webhook.disabled`.
 *
 * `recordOutcomes` records many attempts in one transaction (the worker's
 * batches), with the same result as `recordOutcome` on each in turn.
 *
 * What to write is decided by the pure functions of delivery/policy.ts
 * (`decideOutcome`, `decideDisable`); this module reads the rows they need,
 * executes their decision and decides nothing itself.
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import { dialectOf } from '../../db/registry.js';
import type { Database, DeliveryStatus, Executor } from '../../db/schema.js';
import { emitEvents } from '../../events/outbox.js';
import { notifyAdmins } from '../../notifications/notifications.js';
import {
  enqueueWebhookDisabledMail,
  webhookDisabledNotification,
  type DisableCause,
} from '../../notifications/webhook-disabled-mail.js';
import {
  DISABLE_AFTER_CONSECUTIVE_FAILURES,
  decideDisable,
  decideOutcome,
  succeedsOutright,
  type CountedStreak,
  type DisableReason,
  type OutcomeInput,
  type StreakChange,
} from '../policy.js';
import type { AttemptResult } from '../sender.js';
import type { ClaimedDelivery } from './claim.js';
import { cancelPendingDeliveries } from './commands.js';
import {
  attemptRow,
  recordSuccesses,
  recordSuccessesInOneStatement,
  type AttemptToRecord,
} from './outcome-successes.js';

export interface Outcome {
  /** False when this worker no longer held the lease; nothing was written. */
  recorded: boolean;
  status: DeliveryStatus;
  attemptNumber: number;
  nextAttemptAt: number | null;
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
    };
  }
  const webhook = await trx
    .selectFrom('webhooks')
    .select(['active', 'retry_policy', 'name', 'url', 'survey_id'])
    .where('id', '=', delivery.webhook_id)
    .executeTakeFirstOrThrow();
  const input: OutcomeInput = {
    attempt,
    delivery: {
      attemptCount: current.attempt_count,
      attemptsAllowed: current.attempts_allowed,
      isTest: delivery.is_test === 1,
    },
    webhook: {
      active: webhook.active === 1,
      retryPolicy: JSON.parse(webhook.retry_policy) as number[],
    },
    now,
  };
  const decision = decideOutcome(input);
  await trx
    .insertInto('delivery_attempts')
    .values(attemptRow(delivery.id, decision.attemptNumber, attempt))
    .execute();
  await trx
    .updateTable('deliveries')
    .set({
      status: decision.status,
      attempt_count: decision.attemptNumber,
      next_attempt_at: decision.nextAttemptAt,
      lease_owner: null,
      lease_until: null,
      completed_at: decision.completedAt,
      updated_at: now,
    })
    .where('id', '=', delivery.id)
    .execute();
  const counted = await changeStreak(trx, delivery.webhook_id, decision.streak, now);

  // Where a webhook gets disabled: the policy says so, and disableWebhook acts.
  const reason = decideDisable({ outcome: input, counted });
  if (reason) await disableWebhook(trx, clock, delivery, webhook, reason, attempt);
  const { status, attemptNumber, nextAttemptAt } = decision;
  return { recorded: true, status, attemptNumber, nextAttemptAt };
}

/**
 * Applies the decided change to the webhook's failure streak. A failure is
 * counted by the database (`+ 1 … RETURNING`), so concurrent workers never
 * lose one; the count it returns is what `decideDisable` decides from.
 */
async function changeStreak(
  trx: Executor,
  webhookId: string,
  change: StreakChange,
  now: number,
): Promise<CountedStreak | null> {
  if (change === 'reset') {
    await trx
      .updateTable('webhooks')
      .set({ consecutive_failures: 0, last_delivery_at: now })
      .where('id', '=', webhookId)
      .execute();
  } else if (change === 'count') {
    const counted = await trx
      .updateTable('webhooks')
      .set((eb) => ({
        consecutive_failures: eb('consecutive_failures', '+', 1),
        last_delivery_at: now,
      }))
      .where('id', '=', webhookId)
      .returning(['consecutive_failures', 'active'])
      .executeTakeFirstOrThrow();
    return { consecutiveFailures: counted.consecutive_failures, active: counted.active === 1 };
  }
  return null;
}

/** Most attempts one batch takes (bounds statement size). */
export const MAX_OUTCOME_BATCH = 256;

/**
 * With data-modifying CTEs (PostgreSQL, where every statement is a network
 * round trip) the common case is written in one statement. SQLite runs
 * in-process (a statement costs no round trip) and has none.
 */
const oneStatement = (db: Executor) => dialectOf(db).capabilities.writableCte;

/**
 * Attempts that `succeedsOutright` of webhooks with nothing else in the batch
 * (`fast`), and everything else (`slow`).
 */
function partition(items: readonly AttemptToRecord[]): { fast: number[]; slow: number[] } {
  const failing = new Set(
    items.filter((i) => !succeedsOutright(i.attempt)).map((i) => i.delivery.webhook_id),
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

/**
 * Disabling a webhook, once `decideDisable` said so: the only place it
 * happens. Its pending deliveries are cancelled, its admins notified and
 * `webhook.disabled` raised in the same transaction.
 */
async function disableWebhook(
  trx: Executor,
  clock: Clock,
  delivery: ClaimedDelivery,
  webhook: { name: string; url: string; survey_id: string | null },
  reason: DisableReason,
  attempt: AttemptResult,
): Promise<void> {
  const now = clock.now();
  const lastError = describeFailure(attempt);
  const cause: DisableCause =
    reason === 'gone' ? { reason } : { reason, failures: DISABLE_AFTER_CONSECUTIVE_FAILURES };
  const result = await trx
    .updateTable('webhooks')
    .set({ active: 0, disabled_at: now, disabled_reason: reason, updated_at: now })
    .where('id', '=', delivery.webhook_id)
    .where('active', '=', 1)
    .executeTakeFirst();
  // Only the transaction that flips `active` notifies: admins hear of it once.
  if (Number(result.numUpdatedRows) !== 1) return;
  await cancelPendingDeliveries(trx, delivery.webhook_id, now);
  const recipients = await notifyAdmins(trx, clock, delivery.organization_id, {
    type: 'webhook_disabled',
    ...webhookDisabledNotification({ ...cause, name: webhook.name, url: webhook.url, lastError }),
    data: { webhookId: delivery.webhook_id, url: webhook.url, lastError, reason },
  });
  // The admins' email: jobs that commit with this decision, retried if SMTP is away.
  await enqueueWebhookDisabledMail(trx, now, {
    ...cause,
    webhookId: delivery.webhook_id,
    organizationId: delivery.organization_id,
    name: webhook.name,
    url: webhook.url,
    lastError,
    recipients,
  });
  // To the organization's ticket webhooks subscribed to it; this one is inactive by now.
  await emitEvents(trx, clock, [
    {
      type: 'webhook.disabled',
      organizationId: delivery.organization_id,
      data: {
        webhook: {
          id: delivery.webhook_id,
          name: webhook.name,
          url: webhook.url,
          surveyId: webhook.survey_id,
        },
        reason,
        lastError: {
          statusCode: attempt.statusCode,
          code: attempt.error?.code ?? null,
          message: attempt.error?.message ?? null,
        },
      },
    },
  ]);
}
