/** `/api/users`: the organization's people. Reading is open to every key; changes need an admin. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { IdParams, Timestamp, Uuid, errorResponses } from '../http/schemas.js';
import { unassignTicketsOf } from '../tickets/tickets.service.js';
import {
  assertAnotherAdmin,
  createUser,
  getUser,
  listUsers,
  toUserDto,
  updateUser,
} from './users.repository.js';

const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('agent')]);
const UserSchema = Type.Object({
  id: Uuid,
  organizationId: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const Email = Type.String({ format: 'email', maxLength: 320 });
const Name = Type.String({ minLength: 1, maxLength: 200 });

export function userRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    app.get(
      '/api/users',
      {
        schema: {
          tags: ['users'],
          querystring: Type.Object(
            { ...PageQuery, role: Type.Optional(RoleSchema) },
            { additionalProperties: false },
          ),
          response: { 200: PageOf(UserSchema), ...errorResponses },
        },
      },
      async (request) => {
        const page = pageRequest(request.query);
        const rows = await listUsers(db, authOf(request).organizationId, page, request.query.role);
        return toPage(rows, page.limit, toUserDto);
      },
    );

    app.post(
      '/api/users',
      {
        config: { adminOnly: true },
        schema: {
          tags: ['users'],
          body: Type.Object(
            { email: Email, name: Name, role: Type.Optional(RoleSchema) },
            { additionalProperties: false },
          ),
          response: { 201: UserSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        const body = request.body;
        const row = await db
          .transaction()
          .execute((trx) =>
            createUser(trx, clock, organizationId, { ...body, role: body.role ?? 'agent' }),
          );
        return reply.status(201).send(toUserDto(row));
      },
    );

    app.get(
      '/api/users/:id',
      {
        schema: {
          tags: ['users'],
          params: IdParams,
          response: { 200: UserSchema, ...errorResponses },
        },
      },
      async (request) =>
        toUserDto(await getUser(db, authOf(request).organizationId, request.params.id)),
    );

    app.patch(
      '/api/users/:id',
      {
        config: { adminOnly: true },
        schema: {
          tags: ['users'],
          params: IdParams,
          body: Type.Object(
            {
              email: Type.Optional(Email),
              name: Type.Optional(Name),
              role: Type.Optional(RoleSchema),
            },
            { additionalProperties: false },
          ),
          response: { 200: UserSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        const row = await db
          .transaction()
          .execute((trx) =>
            updateUser(trx, clock, organizationId, request.params.id, request.body),
          );
        return toUserDto(row);
      },
    );

    app.delete(
      '/api/users/:id',
      { config: { adminOnly: true }, schema: { tags: ['users'], params: IdParams } },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        await db.transaction().execute(async (trx) => {
          const user = await getUser(trx, organizationId, request.params.id);
          if (user.role === 'admin') await assertAnotherAdmin(trx, organizationId, user.id);
          // Their tickets become unassigned, each change raising its events like any other edit.
          await unassignTicketsOf(trx, clock, organizationId, user.id);
          await trx.deleteFrom('users').where('id', '=', user.id).execute();
        });
        return reply.status(204).send();
      },
    );
  };
}
