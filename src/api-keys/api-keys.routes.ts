/**
 * `/api/api-keys`: admins create keys (for themselves or another user of the
 * organization), list them by prefix, and revoke them. The full key appears
 * once, in the creation response.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiKeysTable } from '../db/schema.js';
import { iso } from '../clock.js';
import { notFound } from '../errors.js';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { keysetPage, PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import {
  IdParams,
  NoContent,
  Nullable,
  Timestamp,
  Uuid,
  errorResponses,
  withExamples,
} from '../http/schemas.js';
import { getUser } from '../users/users.repository.js';
import { insertApiKey } from './api-keys.repository.js';
import { apiKeyExample, createApiKeyExample, createdApiKeyExample } from './api-keys.examples.js';

const ApiKeySchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it.' }),
  userId: Uuid,
  createdAt: Timestamp,
  lastUsedAt: Nullable(Timestamp),
});
const CreatedApiKeySchema = Type.Composite([
  ApiKeySchema,
  Type.Object({
    key: Type.String({ description: 'The key itself. Shown only in this response.' }),
  }),
]);

function toDto(row: ApiKeysTable) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    userId: row.user_id,
    createdAt: iso(row.created_at),
    lastUsedAt: iso(row.last_used_at),
  };
}

export function apiKeyRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    app.get(
      '/api/api-keys',
      {
        config: { adminOnly: true },
        schema: {
          tags: [TAG.apiKeys],
          summary: 'List API keys',
          description:
            'The keys not revoked, newest first; the keys themselves are never shown again.',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: {
            200: withExamples(PageOf(ApiKeySchema), examplePage(apiKeyExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const page = pageRequest(request.query);
        const rows = await db
          .selectFrom('api_keys')
          .selectAll()
          .where('organization_id', '=', authOf(request).organizationId)
          .where('revoked_at', 'is', null)
          .$call(keysetPage(page))
          .execute();
        return toPage(rows, page.limit, toDto);
      },
    );

    app.post(
      '/api/api-keys',
      {
        config: { adminOnly: true },
        schema: {
          tags: [TAG.apiKeys],
          summary: 'Create an API key',
          description:
            'The key acts as the given user, with their role. It is answered once, in this 201; only its SHA-256 hash is stored.',
          body: withExamples(
            Type.Object(
              {
                name: Type.String({ minLength: 1, maxLength: 200 }),
                userId: Type.Optional(
                  Type.String({ description: 'User the key acts as. Default: the caller.' }),
                ),
              },
              { additionalProperties: false },
            ),
            createApiKeyExample,
          ),
          response: {
            201: withExamples(CreatedApiKeySchema, createdApiKeyExample),
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const auth = authOf(request);
        const userId = request.body.userId ?? auth.userId;
        const { row, key } = await db.transaction().execute(async (trx) => {
          await getUser(trx, auth.organizationId, userId);
          return insertApiKey(trx, clock, {
            organizationId: auth.organizationId,
            userId,
            name: request.body.name,
          });
        });
        return reply.status(201).send({ ...toDto(row), key });
      },
    );

    app.delete(
      '/api/api-keys/:id',
      {
        config: { adminOnly: true },
        schema: {
          tags: [TAG.apiKeys],
          summary: 'Revoke an API key',
          description: 'The key stops working at once.',
          params: IdParams,
          response: { 204: NoContent, ...errorResponses },
        },
      },
      async (request, reply) => {
        const result = await db
          .updateTable('api_keys')
          .set({ revoked_at: clock.now() })
          .where('organization_id', '=', authOf(request).organizationId)
          .where('id', '=', request.params.id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw notFound('API key');
        return reply.status(204).send(null);
      },
    );
  };
}
