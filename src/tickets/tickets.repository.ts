/**
 * Ticket rows and their wire shape. A ticket is always read together with
 * its requester contact, whose email, phone and name the DTO shows as they
 * are now.
 */
import type { QueryCreator } from 'kysely';
import { iso } from '../clock.js';
import { dialectOf } from '../db/registry.js';
import type { Database, Executor, TicketsTable } from '../db/schema.js';
import { notFound } from '../errors.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';
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
 * Reads a ticket for changing it, in one statement: a no-op UPDATE takes the
 * row lock on PostgreSQL (portable stand-in for FOR UPDATE, which SQLite
 * lacks; SQLite already holds the database write lock) and returns the row
 * as it is once the lock is held, so two concurrent edits are applied one
 * after the other and each computes its events from what the other
 * committed. The requester's columns come from subqueries (SQLite's
 * RETURNING cannot name a joined table); the ticket lock does not cover the
 * contact, so any committed version of it is as good as another.
 */
export async function getTicketForUpdate(
  trx: Executor,
  organizationId: string,
  id: string,
): Promise<TicketRow> {
  const row = await trx
    .updateTable('tickets')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .returningAll()
    .returning((eb) => {
      const contact = eb.selectFrom('contacts').whereRef('contacts.id', '=', 'tickets.contact_id');
      return [
        contact.select('contacts.email').as('contact_email'),
        contact.select('contacts.phone').as('contact_phone'),
        contact.select('contacts.name').as('contact_name'),
      ];
    })
    .executeTakeFirst();
  if (!row) throw notFound('Ticket');
  return row;
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
    .$call(keysetPage(page, { column: 'tickets.id' }))
    .execute();
}

/**
 * Inserts a ticket under the organization's next number and returns it. The
 * counter's row stays locked until commit: numbers stay sequential without
 * gaps (a rollback gives its number back), but creations in one organization
 * wait for each other from here to their commit, so callers do everything
 * else they can first. With data-modifying CTEs (PostgreSQL) the number is
 * taken in the insert itself: one round trip under the lock, not two.
 * SQLite holds its write lock for the whole transaction anyway, so there two
 * plain statements do.
 */
export async function insertNumberedTicket(
  trx: Executor,
  row: Omit<TicketsTable, 'number'>,
): Promise<number> {
  const take = (db: QueryCreator<Database>) =>
    db
      .updateTable('organizations')
      .set((eb) => ({ ticket_counter: eb('ticket_counter', '+', 1) }))
      .where('id', '=', row.organization_id)
      .returning('ticket_counter');
  if (!dialectOf(trx).capabilities.writableCte) {
    const { ticket_counter } = await take(trx).executeTakeFirstOrThrow();
    const number = Number(ticket_counter);
    await trx
      .insertInto('tickets')
      .values({ ...row, number })
      .execute();
    return number;
  }
  const inserted = await trx
    .with('taken', take)
    .insertInto('tickets')
    .values((eb) => ({ ...row, number: eb.selectFrom('taken').select('ticket_counter') }))
    .returning('number')
    .executeTakeFirstOrThrow();
  return Number(inserted.number);
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
