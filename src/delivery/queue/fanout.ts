/**
 * Fan-out: one pending delivery per active webhook subscribed to an event,
 * written in the event's own transaction
 * (docs/operations.md, "Outbox and fan-out"). Every attempt of the delivery
 * sends the event's payload bytes unchanged, read from the event's row
 * (./body.ts: one copy per event, not per webhook). A webhook with a payload
 * filter gets a delivery only of the events whose envelope matches it
 * (../filter.ts); one with per-ticket ordering gets the event's order key on
 * its deliveries.
 *
 * In steps, so the outbox can write events and deliveries together: the
 * subscriptions (a read, which may come early in the transaction), the rows
 * (pure), then both tables at once.
 */
import { dialectOf } from '../../db/registry.js';
import type { DeliveriesTable, EventsTable, Executor, WebhookOrdering } from '../../db/schema.js';
import { newId } from '../../ids.js';
import { storedFilter, type EventMatcher } from '../filter.js';
import { EVENT_BODY } from './body.js';
import { emitLocalWake, notifyWorkers, wakeWorkers } from '../wake.js';

export interface FanoutEvent {
  id: string;
  organizationId: string;
  /** Set for survey events: only that survey's webhooks receive them. */
  surveyId: string | null;
  type: string;
  /**
   * The envelope as an object, for payload filters: the outbox passes the one
   * it serialized. Absent (events read back, rows built by hand), it is parsed
   * from `payload` when a filter needs it, once per event; with neither, a
   * filtered webhook throws rather than guess.
   */
  envelope?: object;
  /** The event's stored body (`events.payload`). */
  payload?: string;
  /**
   * What orders the event's deliveries to webhooks with `ordering: "ticket"`:
   * the ticket's id, or the survey response's; null (or absent) for events of
   * neither.
   */
  orderKey?: string | null;
}

/** An active webhook and what it receives. */
export interface Subscription {
  id: string;
  surveyId: string | null;
  events: ReadonlySet<string>;
  attemptsAllowed: number;
  /** Its payload filter, compiled; null or absent: every subscribed event. */
  filter?: EventMatcher | null;
  /** Absent: 'none'. */
  ordering?: WebhookOrdering;
}

/**
 * The organization's active webhooks that may receive its events: ticket
 * webhooks, and the webhooks of the given surveys.
 */
export async function loadSubscriptions(
  trx: Executor,
  organizationId: string,
  surveyIds: readonly string[] = [],
): Promise<Subscription[]> {
  const hooks = await trx
    .selectFrom('webhooks')
    .select(['id', 'survey_id', 'events', 'retry_policy', 'filter', 'ordering'])
    .where('organization_id', '=', organizationId)
    .where('active', '=', 1)
    .where((eb) =>
      surveyIds.length > 0
        ? eb.or([eb('survey_id', 'is', null), eb('survey_id', 'in', surveyIds)])
        : eb('survey_id', 'is', null),
    )
    .execute();
  return hooks.map((h) => ({
    id: h.id,
    surveyId: h.survey_id,
    events: new Set(JSON.parse(h.events) as string[]),
    attemptsAllowed: 1 + (JSON.parse(h.retry_policy) as number[]).length,
    // Compiled once here, for every event of the fan-out (and cached by text across fan-outs).
    filter: storedFilter(h.filter),
    ordering: h.ordering,
  }));
}

/** The survey ids among `events`: whose webhooks `loadSubscriptions` must include. */
export function surveysOf(events: readonly FanoutEvent[]): string[] {
  return [...new Set(events.map((e) => e.surveyId).filter((s): s is string => s !== null))];
}

/**
 * One pending delivery, due `now`, per event and subscribed webhook whose
 * filter (if any) the event's envelope matches.
 */
export function deliveryRows(
  events: readonly FanoutEvent[],
  subscriptions: readonly Subscription[],
  now: number,
): DeliveriesTable[] {
  const rows: DeliveriesTable[] = [];
  for (const event of events) {
    let envelope: unknown = event.envelope;
    for (const hook of subscriptions) {
      if (hook.surveyId !== event.surveyId || !hook.events.has(event.type)) continue;
      if (hook.filter) {
        envelope ??= envelopeOf(event);
        if (!hook.filter(envelope)) continue;
      }
      rows.push({
        id: newId(),
        organization_id: event.organizationId,
        webhook_id: hook.id,
        event_id: event.id,
        event_type: event.type,
        payload: EVENT_BODY,
        status: 'pending',
        attempt_count: 0,
        attempts_allowed: hook.attemptsAllowed,
        next_attempt_at: now,
        lease_owner: null,
        lease_until: null,
        is_test: 0,
        rate_slot: 0,
        order_key: hook.ordering === 'ticket' ? (event.orderKey ?? null) : null,
        created_at: now,
        updated_at: now,
        completed_at: null,
      });
    }
  }
  return rows;
}

/** Parsed from `payload` when the outbox's object is not at hand; never guessed. */
function envelopeOf(event: FanoutEvent): unknown {
  if (event.payload === undefined) {
    throw new Error(`fan-out of event ${event.id} to a filtered webhook needs its envelope`);
  }
  return JSON.parse(event.payload);
}

/**
 * Events, their deliveries and the workers' wake-up. With data-modifying CTEs
 * (PostgreSQL) one statement, one round trip: ticket creation runs this while
 * it holds the organization's number counter, and every round trip there
 * made concurrent creations in the organization wait longer.
 */
export async function insertWithDeliveries(
  trx: Executor,
  events: readonly EventsTable[],
  deliveries: readonly DeliveriesTable[],
): Promise<void> {
  const { writableCte, listenNotify } = dialectOf(trx).capabilities;
  if (writableCte && listenNotify && deliveries.length > 0) {
    await trx
      .with('stored_events', (db) => db.insertInto('events').values(events).returning('id'))
      .with('stored_deliveries', (db) =>
        db.insertInto('deliveries').values(deliveries).returning('id'),
      )
      .selectNoFrom(notifyWorkers().as('notified'))
      .execute();
    emitLocalWake();
    return;
  }
  await trx.insertInto('events').values(events).execute();
  if (deliveries.length === 0) return;
  await trx.insertInto('deliveries').values(deliveries).execute();
  await wakeWorkers(trx);
}

/**
 * The order key of a survey event (per-ticket ordering orders a survey
 * webhook's deliveries by response): its envelope's `data.responseId`. The
 * outbox and a recovery (./recover.ts) both key survey deliveries by it.
 */
export function responseKeyOf(data: unknown): string | null {
  const responseId = (data as { responseId?: unknown } | null)?.responseId;
  return typeof responseId === 'string' ? responseId : null;
}
