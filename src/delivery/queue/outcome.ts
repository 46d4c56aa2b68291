/**
 * Recording an attempt and deciding what happens next (SPEC §6.4–6.6), in
 * one transaction: the attempt row, the delivery's new state (succeeded, a
 * retry scheduled from the webhook's policy, failed, or cancelled), the
 * webhook's consecutive-failure count, and — at the threshold — disabling the
 * webhook, cancelling its pending deliveries and notifying its admins once.
 */
import type { Clock } from '../../clock.js';
import type { DeliveryStatus, Executor } from '../../db/schema.js';
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
    .values({
      id: newId(),
      delivery_id: delivery.id,
      number,
      started_at: attempt.startedAt,
      duration_ms: attempt.durationMs,
      status_code: attempt.statusCode,
      response_headers: attempt.responseHeaders ? JSON.stringify(attempt.responseHeaders) : null,
      response_body: attempt.responseBody,
      response_body_truncated: attempt.responseBodyTruncated ? 1 : 0,
      error_code: attempt.error?.code ?? null,
      error_message: attempt.error?.message ?? null,
    })
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
