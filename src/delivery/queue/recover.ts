/**
 * The queue side of a recovery (docs/api.md, "Recovering a time range"): one
 * batch of a webhook's owner's events, in event order (created_at, id), and
 * what the webhook missed of them. A delivery that ended `failed` or
 * `cancelled` is queued again with the webhook's whole retry policy; an
 * event of a subscribed type with no delivery to the webhook at all (it was
 * disabled, or not yet subscribed, when the event happened) gets a new one,
 * exactly as the fan-out would have written it (./fanout.ts: the webhook's
 * payload filter decides, and an ordered webhook's order key goes on it).
 * Deliveries that succeeded or are still pending or in flight are left
 * alone, so a batch done twice queues nothing twice.
 *
 * The caller (webhooks/recover.ts) runs each batch in one transaction with
 * the advance of its recovery's cursor; `lockRecoveryWebhook` comes first in
 * that transaction.
 */
import { dialectOf } from '../../db/registry.js';
import type { EventsTable, Executor } from '../../db/schema.js';
import { wakeWorkers } from '../wake.js';
// Fan-out is the outbox's alone, but for this: a recovery is the fan-out of
// past events to one webhook, and must write the very rows the fan-out would.
// eslint-disable-next-line import-x/no-restricted-paths
import { deliveryRows, loadSubscriptions, responseKeyOf, type FanoutEvent } from './fanout.js';

/** The position of the last event handled, in (created_at, id) order. */
export interface RecoveryCursor {
  createdAt: number;
  eventId: string;
}

export interface RecoveryWebhook {
  id: string;
  organizationId: string;
  surveyId: string | null;
  active: boolean;
}

/**
 * The webhook a recovery queues for, its row held until commit where writers
 * are concurrent; undefined once it is deleted. The lock (FOR NO KEY UPDATE,
 * as the outcome writer takes it, first of any webhook lock in the
 * transaction) makes two runs of one recovery, or two recoveries of one
 * webhook, take their batches one after the other: each sees what the one
 * before it queued, so none queues an event's delivery twice. It also holds
 * off a concurrent disable until the batch commits, and a delete, whose
 * cascade takes the recovery with it.
 */
export async function lockRecoveryWebhook(
  trx: Executor,
  webhookId: string,
): Promise<RecoveryWebhook | undefined> {
  const row = await trx
    .selectFrom('webhooks')
    .select(['id', 'organization_id', 'survey_id', 'active'])
    .where('id', '=', webhookId)
    .$if(dialectOf(trx).capabilities.concurrentWriters, (q) => q.forNoKeyUpdate())
    .executeTakeFirst();
  return (
    row && {
      id: row.id,
      organizationId: row.organization_id,
      surveyId: row.survey_id,
      active: row.active === 1,
    }
  );
}

export interface RecoveryBatchInput {
  webhook: RecoveryWebhook;
  /** Events with `since <= created_at < until` (epoch ms). */
  since: number;
  until: number;
  /** After this event; null: from `since`. */
  after: RecoveryCursor | null;
  batchSize: number;
  now: number;
}

export interface RecoveryBatch {
  /** Deliveries queued again (were `failed` or `cancelled`). */
  requeued: number;
  /** New deliveries, for events the webhook never had one of. */
  created: number;
  /** The last event of the batch; null when it had none. */
  last: RecoveryCursor | null;
  /** No event of the range is left after this batch. */
  done: boolean;
}

type EventRow = Pick<
  EventsTable,
  'id' | 'organization_id' | 'survey_id' | 'ticket_id' | 'type' | 'created_at'
>;

/** The events the batch walks: the webhook's owner's, in the range, after the cursor. */
function nextEvents(trx: Executor, input: RecoveryBatchInput): Promise<EventRow[]> {
  const { webhook, after } = input;
  return (
    trx
      .selectFrom('events')
      .select(['id', 'organization_id', 'survey_id', 'ticket_id', 'type', 'created_at'])
      // events_org_created_idx: (organization_id, created_at, id).
      .where('organization_id', '=', webhook.organizationId)
      .where((eb) =>
        webhook.surveyId === null
          ? eb('survey_id', 'is', null)
          : eb('survey_id', '=', webhook.surveyId),
      )
      .where('created_at', '>=', input.since)
      .where('created_at', '<', input.until)
      .$if(after !== null, (q) =>
        q.where((eb) =>
          eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(after!.createdAt, after!.eventId)),
        ),
      )
      .orderBy('created_at')
      .orderBy('id')
      .limit(input.batchSize)
      .execute()
  );
}

/**
 * What the fan-out reads of a stored event, as the outbox gave it when the
 * event happened: its body (`payload`, for a payload filter) when read, and
 * its order key (the ticket, or the survey response of a survey event: as
 * events/outbox.ts derives it).
 */
function toFanoutEvent(row: EventRow, payload: string | undefined): FanoutEvent {
  return {
    id: row.id,
    organizationId: row.organization_id,
    surveyId: row.survey_id,
    type: row.type,
    ...(payload === undefined ? {} : { payload }),
    orderKey: row.ticket_id ?? (row.survey_id === null ? null : responseIdOf(payload)),
  };
}

/** The survey response a survey event's envelope names, keyed as the outbox keys it. */
function responseIdOf(payload: string | undefined): string | null {
  if (payload === undefined) return null;
  return responseKeyOf((JSON.parse(payload) as { data?: unknown }).data);
}

/**
 * Queues what the webhook missed of the next `batchSize` events. Call it in
 * the transaction that took `lockRecoveryWebhook` and saw the webhook active.
 */
export async function recoverBatch(
  trx: Executor,
  input: RecoveryBatchInput,
): Promise<RecoveryBatch> {
  const { webhook, now } = input;
  // The webhook as the fan-out sees it (its events, its filter, its
  // ordering), so a new delivery is the one the fan-out would have written.
  const [subscription] = (
    await loadSubscriptions(
      trx,
      webhook.organizationId,
      webhook.surveyId === null ? [] : [webhook.surveyId],
    )
  ).filter((s) => s.id === webhook.id);
  if (!subscription) throw new Error(`webhook ${webhook.id} is not active`);

  const events = await nextEvents(trx, input);
  const lastEvent = events.at(-1);
  const last = lastEvent ? { createdAt: lastEvent.created_at, eventId: lastEvent.id } : null;
  const done = events.length < input.batchSize;
  if (events.length === 0) return { requeued: 0, created: 0, last, done };

  const existing = await trx
    .selectFrom('deliveries')
    .select(['id', 'event_id', 'status'])
    // deliveries_event_idx: (event_id).
    .where(
      'event_id',
      'in',
      events.map((e) => e.id),
    )
    .where('webhook_id', '=', webhook.id)
    .execute();
  const hasDelivery = new Set(existing.map((d) => d.event_id));
  const ended = existing
    .filter((d) => d.status === 'failed' || d.status === 'cancelled')
    .map((d) => d.id);

  let requeued = 0;
  if (ended.length > 0) {
    const result = await trx
      .updateTable('deliveries')
      .set((eb) => ({
        status: 'pending',
        // The whole policy again, on top of the attempts already made (their
        // numbers go on: the attempt log keeps every one).
        attempts_allowed: eb('attempt_count', '+', subscription.attemptsAllowed),
        next_attempt_at: now,
        lease_owner: null,
        lease_until: null,
        rate_slot: 0,
        completed_at: null,
        updated_at: now,
      }))
      .where('id', 'in', ended)
      // Unchanged since read: another writer (a manual retry) may have queued it already.
      .where('status', 'in', ['failed', 'cancelled'])
      .where('webhook_id', '=', webhook.id)
      .executeTakeFirst();
    requeued = Number(result.numUpdatedRows);
  }

  const missed = events.filter((e) => !hasDelivery.has(e.id) && subscription.events.has(e.type));
  let created = 0;
  if (missed.length > 0) {
    // Bodies only where the fan-out reads them: the filter, a survey response's order key.
    const withBody =
      (subscription.filter ?? null) !== null ||
      (subscription.ordering === 'ticket' && webhook.surveyId !== null);
    const bodies = withBody
      ? new Map(
          (
            await trx
              .selectFrom('events')
              .select(['id', 'payload'])
              .where(
                'id',
                'in',
                missed.map((e) => e.id),
              )
              .execute()
          ).map((e) => [e.id, e.payload]),
        )
      : undefined;
    const rows = deliveryRows(
      missed.map((e) => toFanoutEvent(e, bodies?.get(e.id))),
      [subscription],
      now,
    );
    if (rows.length > 0) await trx.insertInto('deliveries').values(rows).execute();
    created = rows.length;
  }

  if (requeued + created > 0) await wakeWorkers(trx);
  return { requeued, created, last, done };
}
