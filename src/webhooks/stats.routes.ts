/**
 * `GET …/{id}/stats?hours=24` under each webhook, ticket or survey: its
 * delivery attempts per clock hour (UTC) by outcome, and their totals with the
 * success rate. Read by the admin console's webhook list and delivery chart.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { iso } from '../clock.js';
import { HOUR_MS, attemptsPerHour } from '../delivery/queue/stats.js';
import type { AppDeps } from '../http/deps.js';
import { TAG } from '../http/openapi-tags.js';
import { Nullable, Timestamp, Uuid, errorResponses, withExamples } from '../http/schemas.js';
import { WEBHOOK_BASES, scopeOf } from './deliveries.routes.js';
import { getWebhookInScope } from './webhooks.repository.js';
import { statsExample } from './webhooks.examples.js';

const MAX_HOURS = 168;

const Counts = {
  succeeded: Type.Integer({ description: 'Attempts answered with a 2xx.' }),
  httpError: Type.Integer({ description: 'Attempts answered with any other status.' }),
  noResponse: Type.Integer({
    description: 'Attempts without a response (timeout, DNS, connect, TLS, blocked…).',
  }),
};

const StatsSchema = Type.Object({
  webhookId: Uuid,
  hours: Type.Integer(),
  from: Timestamp,
  to: Timestamp,
  totals: Type.Object({
    attempts: Type.Integer(),
    ...Counts,
    successRate: Nullable(
      Type.Number({ description: 'succeeded / attempts, from 0 to 1; null without attempts.' }),
    ),
  }),
  buckets: Type.Array(Type.Object({ hour: Timestamp, ...Counts })),
});

export function webhookStatsRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  return async (app) => {
    for (const base of WEBHOOK_BASES) {
      app.get(
        `${base.path}/stats`,
        {
          config: { adminOnly: true },
          schema: {
            tags: [TAG.stats],
            summary: `Get the delivery stats of ${base.what}`,
            description:
              'Delivery attempts per clock hour (UTC) by outcome, over the last `hours` hours ' +
              '(the current one included), oldest first. Test deliveries are not counted.',
            params: Type.Object(base.params),
            querystring: Type.Object(
              { hours: Type.Integer({ minimum: 1, maximum: MAX_HOURS, default: 24 }) },
              { additionalProperties: false },
            ),
            response: { 200: withExamples(StatsSchema, statsExample), ...errorResponses },
          },
        },
        async (request) => {
          const hook = await getWebhookInScope(
            db,
            await scopeOf(db, request),
            (request.params as { id: string }).id,
          );
          const { hours } = request.query;
          const buckets = (await attemptsPerHour(db, hook.id, deps.clock.now(), hours)).map(
            (b) => ({
              hour: iso(b.hour),
              succeeded: b.succeeded,
              httpError: b.http_error,
              noResponse: b.no_response,
            }),
          );
          const sum = (key: 'succeeded' | 'httpError' | 'noResponse') =>
            buckets.reduce((n, b) => n + b[key], 0);
          const totals = {
            succeeded: sum('succeeded'),
            httpError: sum('httpError'),
            noResponse: sum('noResponse'),
          };
          const attempts = totals.succeeded + totals.httpError + totals.noResponse;
          const first = Date.parse(buckets[0]!.hour);
          return {
            webhookId: hook.id,
            hours,
            from: iso(first),
            to: iso(first + hours * HOUR_MS),
            totals: {
              attempts,
              ...totals,
              successRate: attempts === 0 ? null : totals.succeeded / attempts,
            },
            buckets,
          };
        },
      );
    }
  };
}
