/**
 * The outbox. Every event is written in the transaction of the change that
 * raised it, with its payload serialized once, here: those bytes are what
 * every webhook delivery of the event will send, and the deliveries to every
 * subscribed webhook are created here too. Nothing that rolls back is ever
 * seen; nothing that commits is lost.
 */
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { EventsTable, Executor } from '../db/schema.js';
import { newId } from '../ids.js';
import {
  deliveryRows,
  insertWithDeliveries,
  loadSubscriptions,
  responseKeyOf,
  surveysOf,
  type FanoutEvent,
  type Subscription,
} from '../delivery/queue/fanout.js';
import type { OrganizationEventType, SurveyEventType, TicketEventType } from './catalog.js';

export type EventInput =
  | { type: TicketEventType; organizationId: string; ticketId: string; data: object }
  | { type: SurveyEventType; organizationId: string; surveyId: string; data: object }
  | { type: OrganizationEventType; organizationId: string; data: object };

export interface StoredEvent {
  id: string;
  organizationId: string;
  type: string;
  createdAt: number;
  payload: string;
}

/**
 * Builds the envelope with the contract's exact top-level key order: the
 * survey's id for survey events, the organization's for the others.
 */
function envelope(input: EventInput, eventId: string, timestamp: string): object {
  if ('surveyId' in input) {
    return {
      surveyId: input.surveyId,
      eventType: input.type,
      eventId,
      timestamp,
      data: input.data,
    };
  }
  return {
    organizationId: input.organizationId,
    eventType: input.type,
    eventId,
    timestamp,
    data: input.data,
  };
}

/**
 * What orders the event's deliveries to webhooks with per-ticket ordering:
 * the ticket (ticket and message events), the survey response (survey
 * events); nothing for the organization's events.
 */
function orderKey(input: EventInput): string | null {
  if ('ticketId' in input) return input.ticketId;
  if ('surveyId' in input) return responseKeyOf(input.data);
  return null;
}

export interface EmitOptions {
  /**
   * The organization's subscriptions, read earlier in the transaction
   * (`readSubscriptions`, for ticket events); read here when omitted.
   */
  subscriptions?: readonly Subscription[];
}

/**
 * Reads the organization's ticket-event subscriptions ahead of the change, to
 * pass to `emitEvents` as `subscriptions`. For a caller that is about to take
 * a lock held until commit (ticket creation takes the organization's number):
 * the read comes before the lock, so the lock is held only for the writes.
 * Features call this, never the delivery queue: the outbox is their one way in.
 */
export function readSubscriptions(
  trx: Executor,
  organizationId: string,
): Promise<readonly Subscription[]> {
  return loadSubscriptions(trx, organizationId);
}

/** Stores events inside `trx`. Call it from the same transaction as the change. */
export async function emitEvents(
  trx: Executor,
  clock: Clock,
  inputs: readonly EventInput[],
  opts: EmitOptions = {},
): Promise<StoredEvent[]> {
  if (inputs.length === 0) return [];
  const createdAt = clock.now();
  const timestamp = iso(createdAt);
  const fanout: FanoutEvent[] = [];
  const rows: EventsTable[] = inputs.map((input) => {
    const id = newId();
    const body = envelope(input, id, timestamp);
    const row: EventsTable = {
      id,
      organization_id: input.organizationId,
      survey_id: 'surveyId' in input ? input.surveyId : null,
      ticket_id: 'ticketId' in input ? input.ticketId : null,
      type: input.type,
      payload: JSON.stringify(body),
      created_at: createdAt,
    };
    // The envelope object goes along, so payload filters never parse the bytes back.
    fanout.push({
      id,
      organizationId: row.organization_id,
      surveyId: row.survey_id,
      type: row.type,
      envelope: body,
      orderKey: orderKey(input),
    });
    return row;
  });
  // Fan-out in the same transaction: the deliveries commit (or not) with the event.
  const subscriptions =
    opts.subscriptions ??
    (await loadSubscriptions(trx, rows[0]!.organization_id, surveysOf(fanout)));
  await insertWithDeliveries(trx, rows, deliveryRows(fanout, subscriptions, clock.now()));
  return rows.map((r) => ({
    id: r.id,
    organizationId: r.organization_id,
    type: r.type,
    createdAt: r.created_at,
    payload: r.payload,
  }));
}
