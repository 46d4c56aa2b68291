/**
 * Wire shapes of outgoing webhooks (docs/api.md, "Webhooks"), for ticket and
 * survey webhooks alike.
 */
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { FILTER_MAX_BYTES, FILTER_MAX_DEPTH, FILTER_OPERATORS } from '../delivery/filter.js';
import { SURVEY_EVENT_TYPES, TICKET_WEBHOOK_EVENT_TYPES } from '../events/catalog.js';
import { PageQuery } from '../http/pagination.js';
import { FreeObject, Nullable, Timestamp, Uuid } from '../http/schemas.js';
import { MASKED_HEADER_VALUE } from './headers.js';

/** Ticket webhooks belong to an organization, survey webhooks to one of its surveys. */
export type WebhookKind = 'ticket' | 'survey';

export const MAX_EVENTS = 50;
export const MAX_HEADERS = 20;
export const MAX_RETRIES = 10;
export const MIN_RETRY_DELAY_S = 1;
export const MAX_RETRY_DELAY_S = 604_800;
export const MIN_RATE_LIMIT_PER_SECOND = 1;
export const MAX_RATE_LIMIT_PER_SECOND = 10_000;
export const DEFAULT_OVERLAP_HOURS = 24;
export const MAX_OVERLAP_HOURS = 168;
export const WEBHOOK_ORDERINGS = ['none', 'ticket'] as const;

const FILTER_RULES =
  'A JSON object the event\'s envelope must match for a delivery to be created (docs/webhooks.md, "Filters"): ' +
  'each key a dotted path into the envelope (`data.ticket.priority`) with a literal (equal; an array field ' +
  `contains it) or an object of operators (${FILTER_OPERATORS.join(', ')}); \`$and\` / \`$or\` take arrays ` +
  `of filters. At most ${FILTER_MAX_BYTES} bytes as JSON and ${FILTER_MAX_DEPTH} levels deep. ` +
  '`null` (the default): every subscribed event.';
const ORDERING_RULES =
  '`"ticket"`: the deliveries of one ticket (survey webhooks: of one survey response) are sent one at a time, ' +
  'in the order of their events. `"none"` (the default): no order.';

const SECRET_LENGTH = { minLength: 16, maxLength: 500 } as const;
const SECRET_RULES =
  '16–500 characters; one starting with `whsec_` must be `whsec_` and standard base64 of 24–64 bytes ' +
  '(a Standard Webhooks secret).';

export const WebhookSchema = Type.Object({
  id: Uuid,
  organizationId: Uuid,
  surveyId: Nullable(Uuid),
  name: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  hasSecret: Type.Boolean(),
  previousSecretExpiresAt: Type.Union([Timestamp, Type.Null()], {
    description:
      'While the secret before the last rotation still signs deliveries: when it stops. Null otherwise.',
  }),
  headers: Type.Record(Type.String(), Type.String(), {
    description: `Custom header names; values are write-only and always shown as \`${MASKED_HEADER_VALUE}\`.`,
  }),
  active: Type.Boolean(),
  retryPolicy: Type.Array(Type.Integer()),
  rateLimitPerSecond: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Attempts started per second at most, across all workers; null: unlimited.',
  }),
  filter: Type.Union([FreeObject, Type.Null()], {
    description: 'The payload filter as stored; null: every subscribed event.',
  }),
  ordering: Type.Union(
    WEBHOOK_ORDERINGS.map((o) => Type.Literal(o)),
    { description: ORDERING_RULES },
  ),
  consecutiveFailures: Type.Integer(),
  disabledAt: Nullable(Timestamp),
  disabledReason: Nullable(Type.String()),
  lastDeliveryAt: Nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** The 201 of a create: the webhook, and the secret Hookdesk generated for it, if it did. */
export const CreatedWebhookSchema = Type.Composite([
  WebhookSchema,
  Type.Object({
    secret: Type.Optional(
      Type.String({
        description:
          'Only when generated (`secret` absent from the body): the new `whsec_` secret. ' +
          'Shown in this answer only, never again.',
      }),
    ),
  }),
]);

function eventType(kind: WebhookKind): TSchema {
  const types = kind === 'ticket' ? TICKET_WEBHOOK_EVENT_TYPES : SURVEY_EVENT_TYPES;
  return Type.Union(types.map((t) => Type.Literal(t)));
}

/**
 * The structural rules. What JSON Schema cannot say (URL egress rules,
 * duplicate events, header names and values, the payload filter's operators)
 * is checked in webhooks.input.ts,
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
      ...SECRET_LENGTH,
      description:
        `Signing secret, ${SECRET_RULES} Never returned. On create, when absent, Hookdesk generates a ` +
        '`whsec_` secret (32 random bytes) and shows it once in the 201; `null`: deliveries are unsigned. ' +
        'In a PATCH a new value or `null` ' +
        '(no secret) applies at once and ends the overlap of a previous secret; ' +
        '`POST …/secret/rotate` changes it with an overlap.',
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
    rateLimitPerSecond: Type.Unsafe<number | null>({
      type: 'integer',
      nullable: true,
      minimum: MIN_RATE_LIMIT_PER_SECOND,
      maximum: MAX_RATE_LIMIT_PER_SECOND,
      description:
        'At most this many attempts start per second, across all workers; `null` (the default): unlimited. ' +
        'A change applies at once, also to deliveries already waiting for the old limit.',
    }),
    filter: Type.Unsafe<Record<string, unknown> | null>({
      type: 'object',
      nullable: true,
      description: FILTER_RULES,
    }),
    ordering: Type.Union(
      WEBHOOK_ORDERINGS.map((o) => Type.Literal(o)),
      { description: ORDERING_RULES },
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
      rateLimitPerSecond: Type.Optional(f.rateLimitPerSecond),
      filter: Type.Optional(f.filter),
      ordering: Type.Optional(f.ordering),
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
      rateLimitPerSecond: Type.Optional(f.rateLimitPerSecond),
      filter: Type.Optional(f.filter),
      ordering: Type.Optional(f.ordering),
    },
    { additionalProperties: false },
  );
}

/** `POST …/{id}/secret/rotate`; the body may be absent or empty. */
export const RotateBodySchema = Type.Object(
  {
    secret: Type.Optional(
      Type.String({
        ...SECRET_LENGTH,
        description:
          `The new secret, ${SECRET_RULES} Not the current one. ` +
          'Default: a generated `whsec_` secret (32 random bytes).',
      }),
    ),
    overlapHours: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_OVERLAP_HOURS,
        description:
          'How long the secret being replaced still signs deliveries, beside the new one. ' +
          `0: not at all. Default ${DEFAULT_OVERLAP_HOURS}.`,
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Optional: an absent or empty body is the same as `{}`.',
  },
);

export const RotateAnswerSchema = Type.Object({
  secret: Type.String({ description: 'The new secret. Shown in this answer only, never again.' }),
  previousSecretExpiresAt: Type.Union([Timestamp, Type.Null()], {
    description:
      'When the replaced secret stops signing; null when it does not sign at all (no overlap, or there was no secret).',
  }),
});

export const ListQuery = Type.Object(
  { ...PageQuery, active: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
