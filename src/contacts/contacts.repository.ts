/**
 * Contacts: the people who ask for help. A contact is known by its email or
 * its phone, each unique within the organization, stored in one canonical
 * spelling so that "Ann@Example.com" and "ann@example.com", or
 * "+1 (555) 010-2000" and "+15550102000", find the same person.
 */
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { ContactsTable, Executor } from '../db/schema.js';
import { AppError, type FieldProblem, Problems, notFound } from '../errors.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';
import { newId } from '../ids.js';
import type { ContactDto } from '../tickets/tickets.schemas.js';

const PHONE_RE = /^\+?[0-9]{5,20}$/;
const PHONE_SEPARATORS = /[\s\-.()]/g;

const PHONE_RULE = 'must be 5 to 20 digits, optionally after a leading +';

export function normalizeEmail(email: string): string {
  return email.toLowerCase();
}

/** The canonical phone, or null when what remains after removing separators is not a phone. */
export function normalizePhone(phone: string): string | null {
  const compact = phone.replace(PHONE_SEPARATORS, '');
  return PHONE_RE.test(compact) ? compact : null;
}

/** Normalizes a filter value without rejecting it: a value that is no phone simply matches nothing. */
export function phoneFilterValue(phone: string): string {
  return phone.replace(PHONE_SEPARATORS, '');
}

export function toContactDto(row: ContactsTable): ContactDto {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    phone: row.phone,
    name: row.name,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function findContact(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<ContactsTable | undefined> {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function getContact(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<ContactsTable> {
  const row = await findContact(db, organizationId, id);
  if (!row) throw notFound('Contact');
  return row;
}

export async function listContacts(
  db: Executor,
  organizationId: string,
  page: PageRequest,
  filters: { email?: string | undefined; phone?: string | undefined },
): Promise<ContactsTable[]> {
  const { email, phone } = filters;
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .$if(email !== undefined, (q) => q.where('email', '=', normalizeEmail(email!)))
    .$if(phone !== undefined, (q) => q.where('phone', '=', phoneFilterValue(phone!)))
    .$call(keysetPage(page))
    .execute();
}

async function findBy(
  db: Executor,
  organizationId: string,
  column: 'email' | 'phone',
  value: string,
): Promise<ContactsTable | undefined> {
  return db
    .selectFrom('contacts')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where(column, '=', value)
    .executeTakeFirst();
}

/** Throws 409 naming every field (email, phone) already used by another contact. */
async function assertUnique(
  db: Executor,
  organizationId: string,
  values: { email: string | null; phone: string | null },
  exceptId?: string,
): Promise<void> {
  const details: FieldProblem[] = [];
  for (const field of ['email', 'phone'] as const) {
    const value = values[field];
    if (value === null) continue;
    const clash = await findBy(db, organizationId, field, value);
    if (clash && clash.id !== exceptId) {
      details.push({ field, message: 'is already used by another contact', in: 'body' });
    }
  }
  if (details.length > 0) {
    throw new AppError(
      'conflict',
      `A contact with this ${details.map((d) => d.field).join(' and ')} already exists.`,
      details,
    );
  }
}

export interface ContactInput {
  email?: string | null | undefined;
  phone?: string | null | undefined;
  name?: string | null | undefined;
}

/** What is wrong with a contact's email and phone, by unprefixed field name. */
export function contactProblems(
  input: ContactInput,
): { field: 'email' | 'phone'; message: string }[] {
  const problems: { field: 'email' | 'phone'; message: string }[] = [];
  if (input.phone != null && normalizePhone(input.phone) === null) {
    problems.push({ field: 'phone', message: PHONE_RULE });
  }
  if (input.email == null && input.phone == null) {
    problems.push({ field: 'email', message: 'is required when there is no phone' });
  }
  return problems;
}

/** Canonical email and phone, or a 400 naming each problem. */
function canonical(input: ContactInput): { email: string | null; phone: string | null } {
  const problems = new Problems();
  for (const p of contactProblems(input)) problems.add(p.field, p.message);
  problems.throwIfAny();
  return {
    email: input.email == null ? null : normalizeEmail(input.email),
    phone: input.phone == null ? null : normalizePhone(input.phone),
  };
}

/**
 * Inserts unless email or phone is taken. ON CONFLICT DO NOTHING (both
 * dialects) turns a concurrent insert of the same person into "not inserted"
 * instead of an error that would abort the caller's transaction.
 */
async function insertIfFree(trx: Executor, row: ContactsTable): Promise<boolean> {
  const inserted = await trx
    .insertInto('contacts')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function createContact(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  input: ContactInput,
): Promise<ContactsTable> {
  const { email, phone } = canonical(input);
  await assertUnique(trx, organizationId, { email, phone });
  const now = clock.now();
  const row: ContactsTable = {
    id: newId(),
    organization_id: organizationId,
    email,
    phone,
    name: input.name ?? null,
    created_at: now,
    updated_at: now,
  };
  if (!(await insertIfFree(trx, row))) {
    // Lost a race with another insert: report it like the check above would have.
    await assertUnique(trx, organizationId, { email, phone });
    throw new AppError('conflict', 'A contact with this email or phone already exists.');
  }
  return row;
}

/**
 * The contact with this email, else with this phone, else a new one. A
 * nameless contact takes the name given here. Used for ticket requesters and
 * inbound messages.
 */
export async function findOrCreateContact(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  input: ContactInput,
): Promise<ContactsTable> {
  const { email, phone } = canonical(input);
  const name = input.name ?? null;
  // One query for both keys (at most one row each); the email's contact wins.
  const lookup = async () => {
    const rows = await trx
      .selectFrom('contacts')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where((eb) =>
        eb.or([
          ...(email !== null ? [eb('email', '=', email)] : []),
          ...(phone !== null ? [eb('phone', '=', phone)] : []),
        ]),
      )
      .execute();
    return (
      rows.find((r) => email !== null && r.email === email) ??
      rows.find((r) => phone !== null && r.phone === phone)
    );
  };

  let found = await lookup();
  if (!found) {
    const now = clock.now();
    const row: ContactsTable = {
      id: newId(),
      organization_id: organizationId,
      email,
      phone,
      name,
      created_at: now,
      updated_at: now,
    };
    if (await insertIfFree(trx, row)) return row;
    found = await lookup();
    if (!found) throw new AppError('conflict', 'The contact changed concurrently; try again.');
  }
  if (found.name === null && name !== null) {
    const now = clock.now();
    await trx
      .updateTable('contacts')
      .set({ name, updated_at: now })
      .where('id', '=', found.id)
      .execute();
    return { ...found, name, updated_at: now };
  }
  return found;
}

export async function updateContact(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  id: string,
  patch: ContactInput,
): Promise<ContactsTable> {
  const current = await getContact(trx, organizationId, id);
  const { email, phone } = canonical({
    email: patch.email === undefined ? current.email : patch.email,
    phone: patch.phone === undefined ? current.phone : patch.phone,
  });
  const name = patch.name === undefined ? current.name : patch.name;
  if (email === current.email && phone === current.phone && name === current.name) return current;
  await assertUnique(
    trx,
    organizationId,
    {
      email: email === current.email ? null : email,
      phone: phone === current.phone ? null : phone,
    },
    id,
  );
  const next: ContactsTable = { ...current, email, phone, name, updated_at: clock.now() };
  await trx
    .updateTable('contacts')
    .set({ email, phone, name, updated_at: next.updated_at })
    .where('id', '=', id)
    .execute();
  return next;
}
