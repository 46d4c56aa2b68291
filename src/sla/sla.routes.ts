/** `GET/PUT /api/sla-policy`: the organization's SLA targets. Changing it needs an admin. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { TAG } from '../http/openapi-tags.js';
import { errorResponses, withExamples } from '../http/schemas.js';
import { SlaPolicySchema, getSlaPolicy, putSlaPolicy } from './policy.js';
import { slaPolicyExample } from './sla.examples.js';

export function slaRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  return async (app) => {
    app.get(
      '/api/sla-policy',
      {
        schema: {
          tags: [TAG.sla],
          summary: 'Get the SLA policy',
          description:
            'First-response and resolution targets in minutes per priority (null: no target), and when the warning fires.',
          response: { 200: withExamples(SlaPolicySchema, slaPolicyExample), ...errorResponses },
        },
      },
      async (request) => getSlaPolicy(db, authOf(request).organizationId),
    );
    app.put(
      '/api/sla-policy',
      {
        config: { adminOnly: true },
        schema: {
          tags: [TAG.sla],
          summary: 'Replace the SLA policy',
          description:
            'Replaces the whole policy (a priority absent or null has no target). Applies to ' +
            'tickets created, or whose priority changes, from then on.',
          body: withExamples(SlaPolicySchema, slaPolicyExample),
          response: { 200: withExamples(SlaPolicySchema, slaPolicyExample), ...errorResponses },
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
