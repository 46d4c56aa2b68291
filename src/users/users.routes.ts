/** `/api/users`: the organization's people. Reading is open to every key; changes need an admin. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import {
  ErrorResponse,
  IdParams,
  NoContent,
  Timestamp,
  Uuid,
  errorResponses,
  withExamples,
} from '../http/schemas.js';
import { unassignTicketsOf } from '../tickets/tickets.service.js';
import {
  assertAnotherAdmin,
  createUser,
  getUser,
  listUsers,
  toUserDto,
  updateUser,
} from './users.repository.js';
import {
  createUserExample,
  patchUserExample,
  patchedUserExample,
  userExample,
} from './users.examples.js';

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
          tags: [TAG.users],
          summary: 'List users',
          description: 'The agents and admins of the organization; `role` filters.',
          querystring: Type.Object(
            { ...PageQuery, role: Type.Optional(RoleSchema) },
            { additionalProperties: false },
          ),
          response: {
            200: withExamples(PageOf(UserSchema), examplePage(userExample)),
            ...errorResponses,
          },
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
          tags: [TAG.users],
          summary: 'Add a user',
          description: 'Role `agent` unless given. A user acts through the API keys made for them.',
          body: withExamples(
            Type.Object(
              { email: Email, name: Name, role: Type.Optional(RoleSchema) },
              { additionalProperties: false },
            ),
            createUserExample,
          ),
          response: { 201: withExamples(UserSchema, userExample), ...errorResponses },
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
          tags: [TAG.users],
          summary: 'Get a user',
          params: IdParams,
          response: { 200: withExamples(UserSchema, userExample), ...errorResponses },
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
          tags: [TAG.users],
          summary: 'Update a user',
          params: IdParams,
          body: withExamples(
            Type.Object(
              {
                email: Type.Optional(Email),
                name: Type.Optional(Name),
                role: Type.Optional(RoleSchema),
              },
              { additionalProperties: false },
            ),
            patchUserExample,
          ),
          response: { 200: withExamples(UserSchema, patchedUserExample), ...errorResponses },
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
      {
        config: { adminOnly: true },
        schema: {
          tags: [TAG.users],
          summary: 'Delete a user',
          description:
            'Their tickets become unassigned and their API keys are deleted. The last admin cannot be deleted (409).',
          params: IdParams,
          response: { 204: NoContent, ...errorResponses, 409: ErrorResponse },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        await db.transaction().execute(async (trx) => {
          const user = await getUser(trx, organizationId, request.params.id);
          if (user.role === 'admin') await assertAnotherAdmin(trx, organizationId, user.id);
          // Their tickets become unassigned, each change raising its events like any other edit.
          await unassignTicketsOf(trx, clock, organizationId, user.id);
          await trx.deleteFrom('users').where('id', '=', user.id).execute();
        });
        return reply.status(204).send(null);
      },
    );
  };
}
