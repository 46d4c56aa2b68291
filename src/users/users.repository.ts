import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { Executor, Role, UsersTable } from '../db/schema.js';
import { AppError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';

export interface UserDto {
  id: string;
  organizationId: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
}

export function toUserDto(row: UsersTable): UserDto {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    name: row.name,
    role: row.role,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export async function findUser(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<UsersTable | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function getUser(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<UsersTable> {
  const row = await findUser(db, organizationId, id);
  if (!row) throw notFound('User');
  return row;
}

export async function listUsers(
  db: Executor,
  organizationId: string,
  page: PageRequest,
  role: Role | undefined,
): Promise<UsersTable[]> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .$if(role !== undefined, (q) => q.where('role', '=', role!))
    .$call(keysetPage(page))
    .execute();
}

async function assertEmailFree(
  db: Executor,
  organizationId: string,
  email: string,
  exceptId?: string,
): Promise<void> {
  const clash = await db
    .selectFrom('users')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('email', '=', email)
    .$if(exceptId !== undefined, (q) => q.where('id', '<>', exceptId!))
    .executeTakeFirst();
  if (clash) {
    throw new AppError('conflict', 'A user with this email already exists.', [
      { field: 'email', message: 'is already taken', in: 'body' },
    ]);
  }
}

export async function createUser(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  input: { email: string; name: string; role: Role },
): Promise<UsersTable> {
  const email = input.email.toLowerCase();
  await assertEmailFree(trx, organizationId, email);
  const now = clock.now();
  const row: UsersTable = {
    id: newId(),
    organization_id: organizationId,
    email,
    name: input.name,
    role: input.role,
    created_at: now,
    updated_at: now,
  };
  await trx.insertInto('users').values(row).execute();
  return row;
}

/** Refuses to leave an organization without an admin. */
export async function assertAnotherAdmin(
  trx: Executor,
  organizationId: string,
  userId: string,
): Promise<void> {
  const other = await trx
    .selectFrom('users')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('role', '=', 'admin')
    .where('id', '<>', userId)
    .executeTakeFirst();
  if (!other) throw new AppError('conflict', 'An organization must keep at least one admin.');
}

export async function updateUser(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  id: string,
  patch: { email?: string; name?: string; role?: Role },
): Promise<UsersTable> {
  const current = await getUser(trx, organizationId, id);
  const email = patch.email?.toLowerCase();
  if (email !== undefined && email !== current.email)
    await assertEmailFree(trx, organizationId, email, id);
  if (patch.role === 'agent' && current.role === 'admin')
    await assertAnotherAdmin(trx, organizationId, id);
  const next: UsersTable = {
    ...current,
    email: email ?? current.email,
    name: patch.name ?? current.name,
    role: patch.role ?? current.role,
  };
  const changed =
    next.email !== current.email || next.name !== current.name || next.role !== current.role;
  if (!changed) return current;
  next.updated_at = clock.now();
  await trx
    .updateTable('users')
    .set({ email: next.email, name: next.name, role: next.role, updated_at: next.updated_at })
    .where('id', '=', id)
    .execute();
  return next;
}
