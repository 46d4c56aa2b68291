/**
 * Under each webhook, ticket or survey: its deliveries (list with filters,
 * detail with every attempt), `retry` (queue one again now) and `test` (send
 * a `webhook.test` event once, now, and answer with the outcome).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { iso } from '../clock.js';
import type { DeliveryStatus, Executor } from '../db/schema.js';
import {
  DELIVERY_STATUSES,
  DeliveryDetailSchema,
  DeliverySchema,
  toDeliveryDetail,
  toDeliveryDto,
} from '../delivery/dto.js';
import type { ClaimedDelivery } from '../delivery/queue/claim.js';
import {
  TEST_EVENT_TYPE,
  createTestDelivery,
  requeueDelivery,
} from '../delivery/queue/commands.js';
import { attemptsOf, findDelivery, heldBackBy, listDeliveries } from '../delivery/queue/reads.js';
import { recordAlone } from '../delivery/recorder.js';
import { sendAttempt } from '../delivery/sender.js';
import { AppError, notFound } from '../errors.js';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import { errorResponses, withExamples } from '../http/schemas.js';
import { queryTimestamp } from '../http/validation.js';
import { newId } from '../ids.js';
import { signingSecrets } from './secrets.js';
import {
  deliveryDetailExample,
  deliveryExample,
  retriedDeliveryExample,
  testDeliveryExample,
} from './webhooks.examples.js';
import { getSurveyScope, getWebhookInScope, type WebhookScope } from './webhooks.repository.js';

/** A path parameter holding an id. */
export const Id = Type.String({ maxLength: 100 });
/**
 * The two places a webhook's sub-resources live (deliveries, stats, recoveries):
 * under the organization's webhooks and under a survey's, with how summaries name it.
 */
export const WEBHOOK_BASES = [
  { path: '/api/webhooks/:id', params: { id: Id }, what: 'a webhook' },
  {
    path: '/api/surveys/:surveyId/webhooks/:id',
    params: { surveyId: Id, id: Id },
    what: 'a survey webhook',
  },
] as const;

/** The scope of a webhook route: the organization's, or the survey's named by `:surveyId`. */
export async function scopeOf(db: Executor, request: FastifyRequest): Promise<WebhookScope> {
  const { organizationId } = authOf(request);
  const surveyId = (request.params as { surveyId?: string }).surveyId;
  return surveyId === undefined
    ? { organizationId, surveyId: null }
    : getSurveyScope(db, organizationId, surveyId);
}

function webhookId(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

export function deliveryRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    for (const base of WEBHOOK_BASES) {
      const tags = [TAG.deliveries];
      const { what } = base;
      app.get(
        `${base.path}/deliveries`,
        {
          config: { adminOnly: true },
          schema: {
            tags,
            summary: `List the deliveries of ${what}`,
            description:
              'Newest first; filter by status, event type and creation time (`since` included, `until` excluded).',
            params: Type.Object(base.params),
            querystring: Type.Object(
              {
                ...PageQuery,
                status: Type.Optional(Type.String({ enum: [...DELIVERY_STATUSES] })),
                eventType: Type.Optional(Type.String({ maxLength: 100 })),
                since: Type.Optional(Type.String({ format: 'date-time' })),
                until: Type.Optional(Type.String({ format: 'date-time' })),
              },
              { additionalProperties: false },
            ),
            response: {
              200: withExamples(PageOf(DeliverySchema), examplePage(deliveryExample)),
              ...errorResponses,
            },
          },
        },
        async (request) => {
          const hook = await getWebhookInScope(db, await scopeOf(db, request), webhookId(request));
          const q = request.query;
          const page = pageRequest(q);
          // Not Date.parse: a leap second passes the schema but parses to NaN (a 500 on PostgreSQL).
          const since = queryTimestamp('since', q.since || undefined);
          const until = queryTimestamp('until', q.until || undefined);
          const rows = await listDeliveries(
            db,
            hook.id,
            {
              ...(q.status ? { status: q.status as DeliveryStatus } : {}),
              ...(q.eventType ? { eventType: q.eventType } : {}),
              ...(since !== undefined ? { since } : {}),
              ...(until !== undefined ? { until } : {}),
            },
            page,
          );
          return toPage(rows, page.limit, toDeliveryDto);
        },
      );

      app.get(
        `${base.path}/deliveries/:deliveryId`,
        {
          config: { adminOnly: true },
          schema: {
            tags,
            summary: `Get a delivery of ${what}`,
            description:
              'The delivery with the exact body sent and every attempt: status code, response headers and body, or the error.',
            params: Type.Object({ ...base.params, deliveryId: Id }),
            response: {
              200: withExamples(DeliveryDetailSchema, deliveryDetailExample),
              ...errorResponses,
            },
          },
        },
        async (request) => {
          const hook = await getWebhookInScope(db, await scopeOf(db, request), webhookId(request));
          const row = await findDelivery(db, hook.id, request.params.deliveryId);
          if (!row) throw notFound('Delivery');
          return toDeliveryDetail(row, await attemptsOf(db, row.id), await heldBackBy(db, row));
        },
      );

      app.post(
        `${base.path}/deliveries/:deliveryId/retry`,
        {
          config: { adminOnly: true },
          schema: {
            tags,
            summary: `Retry a delivery of ${what} now`,
            description:
              'A finished delivery (succeeded, failed or cancelled) gets exactly one more attempt ' +
              'now, with the same body and no further automatic retries; a pending one becomes due ' +
              'now. 409 while an attempt is in flight or the webhook is disabled.',
            params: Type.Object({ ...base.params, deliveryId: Id }),
            response: {
              202: withExamples(DeliverySchema, retriedDeliveryExample),
              ...errorResponses,
            },
          },
        },
        async (request, reply) => {
          const row = await db.transaction().execute(async (trx) => {
            const hook = await getWebhookInScope(
              trx,
              await scopeOf(trx, request),
              webhookId(request),
            );
            if (hook.active !== 1) {
              throw new AppError(
                'conflict',
                'The webhook is disabled; set it active again before retrying.',
              );
            }
            const delivery = await findDelivery(trx, hook.id, request.params.deliveryId);
            if (!delivery) throw notFound('Delivery');
            return requeueDelivery(trx, delivery, clock.now());
          });
          return reply.status(202).send(toDeliveryDto(row));
        },
      );

      app.post(
        `${base.path}/test`,
        {
          config: { adminOnly: true },
          schema: {
            tags,
            summary: `Send a test event to ${what}`,
            description:
              'Sends one `webhook.test` event now, signed like any delivery and even to a disabled ' +
              'webhook, and answers with the delivery and its attempt. Never retried; never counts ' +
              'toward `consecutiveFailures`.',
            params: Type.Object(base.params),
            response: {
              200: withExamples(DeliveryDetailSchema, testDeliveryExample),
              ...errorResponses,
            },
          },
        },
        async (request) => {
          const scope = await scopeOf(db, request);
          const hook = await getWebhookInScope(db, scope, webhookId(request));
          const owner = `test:${newId()}`;
          const now = clock.now();
          const eventId = newId();
          const envelope = {
            ...(scope.surveyId === null
              ? { organizationId: scope.organizationId }
              : { surveyId: scope.surveyId }),
            eventType: TEST_EVENT_TYPE,
            eventId,
            timestamp: iso(now),
            data: {
              webhook: { id: hook.id, name: hook.name },
              message: 'This is a test delivery from Hookdesk.',
            },
          };
          const claimed: ClaimedDelivery = await db.transaction().execute((trx) =>
            createTestDelivery(trx, {
              id: newId(),
              organizationId: scope.organizationId,
              webhookId: hook.id,
              eventId,
              payload: JSON.stringify(envelope),
              owner,
              now,
              leaseMs: deps.delivery.timeoutMs + 30_000,
            }),
          );
          const result = await sendAttempt(
            {
              url: hook.url,
              deliveryId: claimed.id,
              eventType: TEST_EVENT_TYPE,
              body: claimed.payload,
              secrets: signingSecrets(hook, now),
              customHeaders: JSON.parse(hook.headers) as Record<string, string>,
            },
            { dispatcher: deps.delivery.dispatcher, timeoutMs: deps.delivery.timeoutMs },
          );
          await recordAlone(db, clock, claimed, owner, result);
          const row = await findDelivery(db, hook.id, claimed.id);
          if (!row) throw notFound('Delivery'); // deleted with its webhook meanwhile
          return toDeliveryDetail(row, await attemptsOf(db, row.id));
        },
      );
    }
  };
}
