/**
 * Wire shapes of outgoing webhooks (docs/api.md, "Webhooks"), for ticket and
 * survey webhooks alike.
 */
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { SURVEY_EVENT_TYPES, TICKET_EVENT_TYPES } from '../events/catalog.js';
import { PageQuery } from '../http/pagination.js';
import { Nullable, Timestamp, Uuid } from '../http/schemas.js';
import { MASKED_HEADER_VALUE } from './headers.js';

/** Ticket webhooks belong to an organization, survey webhooks to one of its surveys. */
export type WebhookKind = 'ticket' | 'survey';

export const MAX_EVENTS = 50;
export const MAX_HEADERS = 20;
export const MAX_RETRIES = 10;
export const MIN_RETRY_DELAY_S = 1;
export const MAX_RETRY_DELAY_S = 604_800;

export const WebhookSchema = Type.Object({
  id: Uuid,
  organizationId: Uuid,
  surveyId: Nullable(Uuid),
  name: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  hasSecret: Type.Boolean(),
  headers: Type.Record(Type.String(), Type.String(), {
    description: `Custom header names; values are write-only and always shown as \`${MASKED_HEADER_VALUE}\`.`,
  }),
  active: Type.Boolean(),
  retryPolicy: Type.Array(Type.Integer()),
  consecutiveFailures: Type.Integer(),
  disabledAt: Nullable(Timestamp),
  disabledReason: Nullable(Type.String()),
  lastDeliveryAt: Nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

function eventType(kind: WebhookKind): TSchema {
  const types = kind === 'ticket' ? TICKET_EVENT_TYPES : SURVEY_EVENT_TYPES;
  return Type.Union(types.map((t) => Type.Literal(t)));
}

/**
 * The structural rules. What JSON Schema cannot say (URL egress rules,
 * duplicate events, header names and values) is checked in webhooks.input.ts,
 * and both sets of problems are answered together.
 */
function fields(kind: WebhookKind) {
  return {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    url: Type.String({ minLength: 1, maxLength: 2000 }),
    events: Type.Array(eventType(kind), { minItems: 1, maxItems: MAX_EVENTS }),
    // `nullable` (OpenAPI 3.0, understood by Ajv) rather than a union: one problem, not two.
    secret: Type.Unsafe<string | null>({
      type: 'string',
      nullable: true,
      minLength: 16,
      maxLength: 500,
      description: 'Signing secret; never returned. `null` removes it.',
    }),
    headers: Type.Record(Type.String(), Type.String({ maxLength: 1000 }), {
      maxProperties: MAX_HEADERS,
      description:
        `Custom request headers sent with every delivery; the set replaces the webhook's whole set. ` +
        `Values are secrets, never returned: a value of \`${MASKED_HEADER_VALUE}\` keeps the stored ` +
        'value of the header of that name (400 when there is none), so headers read back can be sent back.',
    }),
    active: Type.Boolean(),
    retryPolicy: Type.Array(
      Type.Integer({ minimum: MIN_RETRY_DELAY_S, maximum: MAX_RETRY_DELAY_S }),
      {
        maxItems: MAX_RETRIES,
        description: 'Delays in seconds before each retry; empty means no retries.',
      },
    ),
  };
}

export function createBodySchema(kind: WebhookKind): TObject {
  const f = fields(kind);
  return Type.Object(
    {
      name: f.name,
      url: f.url,
      events: kind === 'ticket' ? f.events : Type.Optional(f.events),
      secret: Type.Optional(f.secret),
      headers: Type.Optional(f.headers),
      active: Type.Optional(f.active),
      retryPolicy: Type.Optional(f.retryPolicy),
    },
    { additionalProperties: false },
  );
}

export function patchBodySchema(kind: WebhookKind): TObject {
  const f = fields(kind);
  return Type.Object(
    {
      name: Type.Optional(f.name),
      url: Type.Optional(f.url),
      events: Type.Optional(f.events),
      secret: Type.Optional(f.secret),
      headers: Type.Optional(f.headers),
      active: Type.Optional(f.active),
      retryPolicy: Type.Optional(f.retryPolicy),
    },
    { additionalProperties: false },
  );
}

export const ListQuery = Type.Object(
  { ...PageQuery, active: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
