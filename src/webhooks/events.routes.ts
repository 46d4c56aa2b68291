/**
 * `/api/event-types` (the catalogue) and `/api/events` (the organization's
 * outbox, newest first). An event's `payload` is the envelope webhooks
 * receive, parsed from the stored bytes.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { iso } from '../clock.js';
import type { EventsTable } from '../db/schema.js';
import { notFound } from '../errors.js';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { keysetPage, PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import {
  FreeObject,
  IdParams,
  Timestamp,
  Uuid,
  errorResponses,
  withExamples,
} from '../http/schemas.js';
import { queryTimestamp } from '../http/validation.js';
import { DeliverySchema, toDeliveryDto } from '../delivery/dto.js';
import { deliveriesOfEvent } from '../delivery/queue/reads.js';
import { EVENT_CATALOGUE } from './event-catalogue.js';
import { eventDetailExample, eventExample } from './webhooks.examples.js';

const EventSchema = Type.Object({
  id: Uuid,
  type: Type.String(),
  createdAt: Timestamp,
  payload: FreeObject,
});

const EventTypesSchema = Type.Object({
  data: Type.Array(
    Type.Object({
      type: Type.String(),
      family: Type.String(),
      description: Type.String(),
      schema: FreeObject,
    }),
  ),
});

/** The catalogue never changes while the server runs: built once, and its own example. */
const EVENT_TYPES = {
  data: EVENT_CATALOGUE.map((e) => ({
    type: e.type,
    family: e.family,
    description: e.description,
    schema: e.schema,
  })),
};

function toDto(row: EventsTable) {
  return {
    id: row.id,
    type: row.type,
    createdAt: iso(row.created_at),
    payload: JSON.parse(row.payload) as Record<string, unknown>,
  };
}

export function eventRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  return async (app) => {
    app.get(
      '/api/event-types',
      {
        schema: {
          tags: [TAG.events],
          summary: 'List the event types',
          description:
            'Every event type a webhook may subscribe to, with the JSON Schema of its `data`.',
          response: { 200: withExamples(EventTypesSchema, EVENT_TYPES) },
        },
      },
      () => EVENT_TYPES,
    );

    app.get(
      '/api/events',
      {
        schema: {
          tags: [TAG.events],
          summary: 'List events',
          description:
            "The organization's events, newest first: the envelopes its webhooks receive. " +
            'Filter by type and creation time (`since` included, `until` excluded).',
          querystring: Type.Object(
            {
              ...PageQuery,
              type: Type.Optional(Type.String({ maxLength: 100 })),
              since: Type.Optional(Type.String({ format: 'date-time' })),
              until: Type.Optional(Type.String({ format: 'date-time' })),
            },
            { additionalProperties: false },
          ),
          response: {
            200: withExamples(PageOf(EventSchema), examplePage(eventExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { type } = request.query;
        // Not Date.parse: a leap second passes the schema but parses to NaN (a 500 on PostgreSQL).
        const since = queryTimestamp('since', request.query.since);
        const until = queryTimestamp('until', request.query.until);
        const page = pageRequest(request.query);
        const rows = await db
          .selectFrom('events')
          .selectAll()
          .where('organization_id', '=', authOf(request).organizationId)
          .$if(type !== undefined, (q) => q.where('type', '=', type!))
          .$if(since !== undefined, (q) => q.where('created_at', '>=', since!))
          .$if(until !== undefined, (q) => q.where('created_at', '<', until!))
          .$call(keysetPage(page))
          .execute();
        return toPage(rows, page.limit, toDto);
      },
    );

    app.get(
      '/api/events/:id',
      {
        schema: {
          tags: [TAG.events],
          summary: 'Get an event',
          description: 'The event with the deliveries it created, one per webhook that got it.',
          params: IdParams,
          response: {
            200: withExamples(
              Type.Composite([
                EventSchema,
                Type.Object({ deliveries: Type.Array(DeliverySchema) }),
              ]),
              eventDetailExample,
            ),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const row = await db
          .selectFrom('events')
          .selectAll()
          .where('organization_id', '=', authOf(request).organizationId)
          .where('id', '=', request.params.id)
          .executeTakeFirst();
        if (!row) throw notFound('Event');
        const deliveries = await deliveriesOfEvent(db, row.organization_id, row.id);
        return { ...toDto(row), deliveries: deliveries.map(toDeliveryDto) };
      },
    );
  };
}
