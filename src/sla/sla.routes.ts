/** `GET/PUT /api/sla-policy`: the organization's SLA targets. Changing it needs an admin. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { errorResponses } from '../http/schemas.js';
import { SlaPolicySchema, getSlaPolicy, putSlaPolicy } from './policy.js';

export function slaRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  return async (app) => {
    app.get(
      '/api/sla-policy',
      { schema: { tags: ['sla'], response: { 200: SlaPolicySchema, ...errorResponses } } },
      async (request) => getSlaPolicy(db, authOf(request).organizationId),
    );
    app.put(
      '/api/sla-policy',
      {
        config: { adminOnly: true },
        schema: {
          tags: ['sla'],
          body: SlaPolicySchema,
          response: { 200: SlaPolicySchema, ...errorResponses },
        },
      },
      async (request) =>
        db
          .transaction()
          .execute((trx) =>
            putSlaPolicy(trx, deps.clock, authOf(request).organizationId, request.body),
          ),
    );
  };
}
