/**
 * Creating and changing tickets. Every change goes through `updateTicket`,
 * which writes the row and its events in the caller's transaction, so a
 * change and its events commit or roll back together.
 */
import type { Clock } from '../clock.js';
import { contactProblems, findOrCreateContact } from '../contacts/contacts.repository.js';
import type {
  Channel,
  Executor,
  TicketPriority,
  TicketStatus,
  TicketsTable,
} from '../db/schema.js';
import { Problems, invalid } from '../errors.js';
import { emitEvents, readSubscriptions } from '../events/outbox.js';
import { newId } from '../ids.js';
import { findUser } from '../users/users.repository.js';
import { getSlaPolicy } from '../sla/policy.js';
import { slaAfterChange, slaForNewTicket } from '../sla/state.js';
import { syncSlaTimers } from '../sla/timers.js';
import { creationEvents, sameTags, updateEvents } from './ticket-events.js';
import {
  type TicketChange,
  type TicketRow,
  getTicketForUpdate,
  insertNumberedTicket,
  parseTags,
  ticketIdsAssignedTo,
  toTicketDto,
  updateTicketRow,
} from './tickets.repository.js';
import type { TicketDto } from './tickets.schemas.js';

export interface NewTicket {
  subject: string;
  description?: string | undefined;
  priority?: TicketPriority | undefined;
  requester: { email?: string | undefined; phone?: string | undefined; name?: string | undefined };
  assigneeId?: string | undefined;
  tags?: string[] | undefined;
  channel?: Channel | undefined;
}

export interface TicketPatch {
  subject?: string | undefined;
  priority?: TicketPriority | undefined;
  status?: TicketStatus | undefined;
  /** `null` unassigns. */
  assigneeId?: string | null | undefined;
  tags?: string[] | undefined;
}

const NOT_A_USER = 'is not a user of this organization';

/** Repeats are dropped; the first occurrence keeps its place. */
function dedupeTags(tags: readonly string[]): string[] {
  return [...new Set(tags)];
}

async function isUserOf(trx: Executor, organizationId: string, userId: string): Promise<boolean> {
  return (await findUser(trx, organizationId, userId)) !== undefined;
}

export async function createTicket(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  input: NewTicket,
): Promise<TicketDto> {
  const problems = new Problems();
  for (const p of contactProblems(input.requester)) problems.add(`requester.${p.field}`, p.message);
  if (input.assigneeId !== undefined && !(await isUserOf(trx, organizationId, input.assigneeId))) {
    problems.add('assigneeId', NOT_A_USER);
  }
  problems.throwIfAny();

  const contact = await findOrCreateContact(trx, clock, organizationId, input.requester);
  const now = clock.now();
  const priority = input.priority ?? 'normal';
  const policy = await getSlaPolicy(trx, organizationId);
  const row: Omit<TicketsTable, 'number'> = {
    id: newId(),
    organization_id: organizationId,
    subject: input.subject,
    description: input.description ?? null,
    status: 'open',
    priority,
    channel: input.channel ?? 'api',
    contact_id: contact.id,
    assignee_id: input.assigneeId ?? null,
    tags: JSON.stringify(dedupeTags(input.tags ?? [])),
    ...slaForNewTicket(now, priority, policy),
    created_at: now,
    updated_at: now,
    resolved_at: null,
    closed_at: null,
  };
  // Taking the number locks the organization's counter until commit, and
  // concurrent creations in the organization wait for it: everything that
  // does not need the number (the contact, the policy, the SLA timers, the
  // webhooks to deliver to) comes first; only the ticket, its events and
  // their deliveries come after (on PostgreSQL two statements).
  await syncSlaTimers(trx, clock, null, row, policy.warningPercent);
  const subscriptions = await readSubscriptions(trx, organizationId);
  const number = await insertNumberedTicket(trx, row);
  const ticket = toTicketDto({
    ...row,
    number,
    contact_email: contact.email,
    contact_phone: contact.phone,
    contact_name: contact.name,
  });
  await emitEvents(trx, clock, creationEvents(ticket), { subscriptions });
  return ticket;
}

/**
 * resolvedAt and closedAt record when the ticket last entered that status.
 * Reopening (open, pending) clears both; resolving clears closedAt (the
 * ticket is no longer closed); closing keeps resolvedAt, so a resolved then
 * closed ticket still says when it was resolved.
 */
function statusTimes(
  current: TicketsTable,
  status: TicketStatus,
  now: number,
): Pick<TicketsTable, 'resolved_at' | 'closed_at'> {
  if (status === current.status) {
    return { resolved_at: current.resolved_at, closed_at: current.closed_at };
  }
  switch (status) {
    case 'resolved':
      return { resolved_at: now, closed_at: null };
    case 'closed':
      return { resolved_at: current.resolved_at, closed_at: now };
    default:
      return { resolved_at: null, closed_at: null };
  }
}

/**
 * Applies a partial change and raises its events. A patch that changes
 * nothing writes nothing (updatedAt stays) and raises nothing.
 */
export async function updateTicket(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  id: string,
  patch: TicketPatch,
): Promise<TicketDto> {
  const current = await getTicketForUpdate(trx, organizationId, id);
  const assigneeId = patch.assigneeId === undefined ? current.assignee_id : patch.assigneeId;
  if (
    assigneeId !== null &&
    assigneeId !== current.assignee_id &&
    !(await isUserOf(trx, organizationId, assigneeId))
  ) {
    throw invalid('assigneeId', NOT_A_USER);
  }
  const currentTags = parseTags(current.tags);
  const tags =
    patch.tags === undefined || sameTags(currentTags, patch.tags)
      ? currentTags
      : dedupeTags(patch.tags);
  const now = clock.now();
  const status = patch.status ?? current.status;
  const priority = patch.priority ?? current.priority;
  // The SLA clock moves only with status or priority; other edits leave it as it is.
  const policy =
    status !== current.status || priority !== current.priority
      ? await getSlaPolicy(trx, organizationId)
      : null;
  const change: TicketChange = {
    subject: patch.subject ?? current.subject,
    priority,
    status,
    ...(policy ? slaAfterChange(current, { status, priority }, policy, now) : {}),
    assignee_id: assigneeId,
    tags: JSON.stringify(tags),
    ...statusTimes(current, status, now),
    updated_at: now,
  };
  const next: TicketRow = { ...current, ...change };
  const before = toTicketDto(current);
  const after = toTicketDto(next);
  const events = updateEvents(before, after);
  if (events.length === 0) return before;
  await updateTicketRow(trx, organizationId, id, change);
  if (policy) await syncSlaTimers(trx, clock, current, next, policy.warningPercent);
  await emitEvents(trx, clock, events);
  return after;
}

/** Unassigns every ticket of a user who is being deleted, raising the usual events. */
export async function unassignTicketsOf(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  userId: string,
): Promise<void> {
  for (const id of await ticketIdsAssignedTo(trx, organizationId, userId)) {
    await updateTicket(trx, clock, organizationId, id, { assigneeId: null });
  }
}
