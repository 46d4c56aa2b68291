/**
 * Which events a ticket change raises (docs/api.md, "Events"), computed from
 * the ticket before and after, so every path that changes a ticket (API,
 * inbound messages, user deletion) raises the same events in the same order.
 */
import type { TicketEventType } from '../events/catalog.js';
import type { EventInput } from '../events/outbox.js';
import type { MessageDto, TicketDto } from './tickets.schemas.js';

/** Fields reported in `ticket.updated`'s `changes`, named as in the API. */
const TRACKED_FIELDS = ['subject', 'priority', 'status', 'assigneeId', 'tags'] as const;
export type TrackedField = (typeof TRACKED_FIELDS)[number];

export type TicketChanges = Partial<Record<TrackedField, { from: unknown; to: unknown }>>;

/** Tags are a set: order and repeats carry no meaning. */
export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  const setA = new Set(a);
  const setB = new Set(b);
  return setA.size === setB.size && [...setA].every((t) => setB.has(t));
}

function diffTicket(before: TicketDto, after: TicketDto): TicketChanges {
  const changes: TicketChanges = {};
  for (const field of TRACKED_FIELDS) {
    const from = before[field];
    const to = after[field];
    const same =
      field === 'tags' ? sameTags(from as string[], to as string[]) : Object.is(from, to);
    if (!same) changes[field] = { from, to };
  }
  return changes;
}

function ticketEvent(type: TicketEventType, ticket: TicketDto, data: object): EventInput {
  return { type, organizationId: ticket.organizationId, ticketId: ticket.id, data };
}

export function creationEvents(ticket: TicketDto): EventInput[] {
  const events = [ticketEvent('ticket.created', ticket, { ticket })];
  if (ticket.assigneeId !== null) {
    events.push(ticketEvent('ticket.assigned', ticket, { ticket, previousAssigneeId: null }));
  }
  return events;
}

/**
 * Events of one edit, in the documented order: updated, status_changed,
 * resolved, closed, assigned. No change, no event.
 */
export function updateEvents(before: TicketDto, after: TicketDto): EventInput[] {
  const changes = diffTicket(before, after);
  if (Object.keys(changes).length === 0) return [];
  const events = [ticketEvent('ticket.updated', after, { ticket: after, changes })];
  if (changes.status) {
    events.push(
      ticketEvent('ticket.status_changed', after, {
        ticket: after,
        previousStatus: before.status,
      }),
    );
    if (after.status === 'resolved') {
      events.push(ticketEvent('ticket.resolved', after, { ticket: after }));
    }
    if (after.status === 'closed') {
      events.push(ticketEvent('ticket.closed', after, { ticket: after }));
    }
  }
  if (changes.assigneeId && after.assigneeId !== null) {
    events.push(
      ticketEvent('ticket.assigned', after, {
        ticket: after,
        previousAssigneeId: before.assigneeId,
      }),
    );
  }
  return events;
}

export function messageCreatedEvent(ticket: TicketDto, message: MessageDto): EventInput {
  return ticketEvent('message.created', ticket, { ticket, message });
}
