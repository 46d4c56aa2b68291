/**
 * Ticket rows and their wire shape. A ticket is always read together with
 * its requester contact, whose email, phone and name the DTO shows as they
 * are now.
 */
import { iso } from '../clock.js';
import type { Executor, TicketsTable } from '../db/schema.js';
import { notFound } from '../errors.js';
import type { PageRequest } from '../http/pagination.js';
import type { TicketStatus } from '../db/schema.js';
import { normalizeEmail, phoneFilterValue } from '../contacts/contacts.repository.js';
import { metricClocks, stateOf, type SlaColumns } from '../sla/state.js';
import type { TicketDto } from './tickets.schemas.js';

function slaDto(row: TicketRow): TicketDto['sla'] {
  const [fr, res] = metricClocks(row);
  return {
    firstResponse: { dueAt: iso(fr!.dueAt), state: stateOf(fr!) },
    resolution: { dueAt: iso(res!.dueAt), state: stateOf(res!) },
  };
}

export interface TicketRow extends TicketsTable {
  contact_email: string | null;
  contact_phone: string | null;
  contact_name: string | null;
}

export function parseTags(json: string): string[] {
  return JSON.parse(json) as string[];
}

export function toTicketDto(row: TicketRow): TicketDto {
  return {
    id: row.id,
    number: row.number,
    organizationId: row.organization_id,
    subject: row.subject,
    description: row.description,
    status: row.status,
    priority: row.priority,
    channel: row.channel,
    requester: {
      contactId: row.contact_id,
      email: row.contact_email,
      phone: row.contact_phone,
      name: row.contact_name,
    },
    assigneeId: row.assignee_id,
    tags: parseTags(row.tags),
    firstResponseDueAt: iso(row.first_response_due_at),
    resolutionDueAt: iso(row.resolution_due_at),
    sla: slaDto(row),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    resolvedAt: iso(row.resolved_at),
    closedAt: iso(row.closed_at),
  };
}

function selectTickets(db: Executor, organizationId: string) {
  return db
    .selectFrom('tickets')
    .innerJoin('contacts', 'contacts.id', 'tickets.contact_id')
    .selectAll('tickets')
    .select([
      'contacts.email as contact_email',
      'contacts.phone as contact_phone',
      'contacts.name as contact_name',
    ])
    .where('tickets.organization_id', '=', organizationId);
}

export async function findTicket(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<TicketRow | undefined> {
  return selectTickets(db, organizationId).where('tickets.id', '=', id).executeTakeFirst();
}

export async function getTicket(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<TicketRow> {
  const row = await findTicket(db, organizationId, id);
  if (!row) throw notFound('Ticket');
  return row;
}

/**
 * Reads a ticket for changing it. The no-op UPDATE first takes the row lock
 * on PostgreSQL (portable stand-in for FOR UPDATE, which SQLite lacks; SQLite
 * already holds the database write lock), so two concurrent edits are
 * applied one after the other and each computes its events from what the
 * other committed.
 */
export async function getTicketForUpdate(
  trx: Executor,
  organizationId: string,
  id: string,
): Promise<TicketRow> {
  await trx
    .updateTable('tickets')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .execute();
  return getTicket(trx, organizationId, id);
}

export interface TicketFilters {
  status?: TicketStatus | undefined;
  assigneeId?: string | undefined;
  contactId?: string | undefined;
  /** An email or a phone of the requester contact. */
  requester?: string | undefined;
  /** `breached`: an unmet metric passed its due time; `at_risk`: warned, not yet breached. */
  sla?: 'breached' | 'at_risk' | undefined;
}

export async function listTickets(
  db: Executor,
  organizationId: string,
  page: PageRequest,
  filters: TicketFilters,
): Promise<TicketRow[]> {
  const { status, assigneeId, contactId, requester, sla } = filters;
  return selectTickets(db, organizationId)
    .$if(status !== undefined, (q) => q.where('tickets.status', '=', status!))
    .$if(assigneeId !== undefined, (q) => q.where('tickets.assignee_id', '=', assigneeId!))
    .$if(contactId !== undefined, (q) => q.where('tickets.contact_id', '=', contactId!))
    .$if(requester !== undefined, (q) =>
      q.where((eb) =>
        eb.or([
          eb('contacts.email', '=', normalizeEmail(requester!)),
          eb('contacts.phone', '=', phoneFilterValue(requester!)),
        ]),
      ),
    )
    .$if(sla === 'breached', (q) =>
      q.where((eb) =>
        eb.or([
          eb.and([
            eb('tickets.first_response_breached_at', 'is not', null),
            eb('tickets.first_responded_at', 'is', null),
          ]),
          eb.and([
            eb('tickets.resolution_breached_at', 'is not', null),
            eb('tickets.status', 'not in', ['resolved', 'closed']),
          ]),
        ]),
      ),
    )
    .$if(sla === 'at_risk', (q) =>
      q.where((eb) =>
        eb.or([
          eb.and([
            eb('tickets.first_response_warned_at', 'is not', null),
            eb('tickets.first_response_breached_at', 'is', null),
            eb('tickets.first_responded_at', 'is', null),
          ]),
          eb.and([
            eb('tickets.resolution_warned_at', 'is not', null),
            eb('tickets.resolution_breached_at', 'is', null),
            eb('tickets.status', 'not in', ['resolved', 'closed']),
          ]),
        ]),
      ),
    )
    .$if(page.after !== undefined, (q) => q.where('tickets.id', '<', page.after!))
    .orderBy('tickets.id', 'desc')
    .limit(page.limit + 1)
    .execute();
}

/** Takes the organization's next ticket number; the counter row stays locked until commit. */
export async function nextTicketNumber(trx: Executor, organizationId: string): Promise<number> {
  const row = await trx
    .updateTable('organizations')
    .set((eb) => ({ ticket_counter: eb('ticket_counter', '+', 1) }))
    .where('id', '=', organizationId)
    .returning('ticket_counter')
    .executeTakeFirstOrThrow();
  return Number(row.ticket_counter);
}

export async function insertTicket(trx: Executor, row: TicketsTable): Promise<void> {
  await trx.insertInto('tickets').values(row).execute();
}

/** The columns a ticket edit may change. */
export type TicketChange = Partial<SlaColumns> &
  Pick<
    TicketsTable,
    | 'subject'
    | 'priority'
    | 'status'
    | 'assignee_id'
    | 'tags'
    | 'resolved_at'
    | 'closed_at'
    | 'updated_at'
  >;

export async function updateTicketRow(
  trx: Executor,
  organizationId: string,
  id: string,
  change: TicketChange,
): Promise<void> {
  await trx
    .updateTable('tickets')
    .set(change)
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .execute();
}

export async function ticketIdsAssignedTo(
  trx: Executor,
  organizationId: string,
  userId: string,
): Promise<string[]> {
  const rows = await trx
    .selectFrom('tickets')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('assignee_id', '=', userId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.id);
}
