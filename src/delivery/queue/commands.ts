/** Queue changes made on behalf of a user: cancel a webhook's pending work, retry one delivery now. */
import type { DeliveriesTable, Executor } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { wakeWorkers } from '../wake.js';
import type { ClaimedDelivery } from './claim.js';
import { cancelledAt } from './states.js';

/**
 * Cancels every delivery of a webhook that has not started. Deliveries being
 * attempted right now finish their attempt; their outcome then sees the
 * webhook inactive and cancels instead of scheduling a retry.
 */
export async function cancelPendingDeliveries(
  trx: Executor,
  webhookId: string,
  now: number,
): Promise<number> {
  const result = await trx
    .updateTable('deliveries')
    .set(cancelledAt(now))
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Queues a delivery for one more attempt now. A finished delivery gets
 * exactly one extra attempt (no new automatic retries); a pending one simply
 * becomes due now. One being attempted right now is a conflict.
 */
export async function requeueDelivery(
  trx: Executor,
  delivery: DeliveriesTable,
  now: number,
): Promise<DeliveriesTable> {
  if (delivery.status === 'delivering') {
    throw new AppError('conflict', 'The delivery is being attempted right now.');
  }
  const attemptsAllowed =
    delivery.status === 'pending'
      ? delivery.attempts_allowed
      : Math.max(delivery.attempts_allowed, delivery.attempt_count + 1);
  const next = {
    status: 'pending' as const,
    attempts_allowed: attemptsAllowed,
    next_attempt_at: now,
    completed_at: null,
    updated_at: now,
  };
  await trx
    .updateTable('deliveries')
    .set(next)
    .where('id', '=', delivery.id)
    .where('status', '=', delivery.status)
    .execute();
  await wakeWorkers(trx);
  return { ...delivery, ...next };
}

/** A claimed delivery whose webhook turned inactive before its attempt: cancel it unsent. */
export async function cancelClaimed(
  db: Executor,
  deliveryId: string,
  owner: string,
  now: number,
): Promise<void> {
  await db
    .updateTable('deliveries')
    .set(cancelledAt(now))
    .where('id', '=', deliveryId)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'delivering')
    .execute();
}

/**
 * A `webhook.test` delivery, created already claimed by `owner` so that no
 * worker picks it up: the API sends it once, right away, and records the
 * outcome like any other attempt (without retries or failure counting).
 */
export async function createTestDelivery(
  trx: Executor,
  d: {
    id: string;
    organizationId: string;
    webhookId: string;
    eventId: string;
    payload: string;
    owner: string;
    now: number;
    leaseMs: number;
  },
): Promise<ClaimedDelivery> {
  const row = {
    id: d.id,
    organization_id: d.organizationId,
    webhook_id: d.webhookId,
    event_id: d.eventId,
    event_type: TEST_EVENT_TYPE,
    payload: d.payload,
    status: 'delivering' as const,
    attempt_count: 0,
    attempts_allowed: 1,
    next_attempt_at: d.now,
    lease_owner: d.owner,
    lease_until: d.now + d.leaseMs,
    is_test: 1,
    rate_slot: 0,
    created_at: d.now,
    updated_at: d.now,
    completed_at: null,
  };
  await trx.insertInto('deliveries').values(row).execute();
  return row;
}

export const TEST_EVENT_TYPE = 'webhook.test';
