/**
 * `GET /api/meta`: the fixed lists and rules a client needs to build forms
 * and read answers (channel types and their credential fields, webhook
 * defaults and limits, delivery statuses, the request headers Hookdesk sets).
 * Every value is read from the constant the server itself applies, so the
 * console, which draws its forms from this answer, cannot drift from the API.
 * Event types have their own endpoint, `GET /api/event-types`.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CHANNEL_SPECS, CHANNEL_TYPES, configFlag } from '../channels/channel-types.js';
import { DELIVERY_STATUSES } from '../delivery/dto.js';
import { DISABLE_AFTER_CONSECUTIVE_FAILURES } from '../delivery/policy.js';
import { TEST_EVENT_TYPE } from '../delivery/queue/commands.js';
import { DELIVERY_HEADERS, RESPONSE_BODY_LIMIT } from '../delivery/sender.js';
import { TAG } from '../http/openapi-tags.js';
import { Nullable, errorResponses, withExamples } from '../http/schemas.js';
import { TICKET_PRIORITIES } from '../tickets/tickets.schemas.js';
import { RESERVED_HEADERS } from '../webhooks/headers.js';
import { DEFAULT_RETRY_POLICY, DEFAULT_SURVEY_EVENTS } from '../webhooks/webhooks.input.js';
import {
  MAX_HEADERS,
  MAX_RETRIES,
  MAX_RETRY_DELAY_S,
  MIN_RETRY_DELAY_S,
} from '../webhooks/webhooks.schemas.js';

const CredentialFieldSchema = Type.Object({
  name: Type.String({ description: 'The key under `credentials` in a channel body.' }),
  label: Type.String(),
  help: Type.String({ description: 'Where to find the value, and its rules.' }),
  secret: Type.Boolean({ description: 'Stored encrypted and never returned; else in `config`.' }),
  optional: Type.Boolean(),
  multiline: Type.Boolean({ description: 'A long value, such as a public key.' }),
  setFlag: Nullable(
    Type.String({
      description: 'For an optional secret: the boolean in `config` saying whether it is set.',
    }),
  ),
});

const ChannelTypeInfoSchema = Type.Object({
  type: Type.String(),
  label: Type.String(),
  fields: Type.Array(CredentialFieldSchema),
  callbacks: Type.Record(
    Type.String(),
    Type.Object({
      where: Type.String({ description: "Where the URL goes in the provider's console." }),
      token: Nullable(
        Type.String({
          description:
            'The secret field the URL carries as `?token=`, only in the answer that set it.',
        }),
      ),
    }),
    { description: 'By `callbackUrls` key.' },
  ),
  generatesBasicAuth: Type.Boolean({
    description:
      "Hookdesk makes up a basic-auth pair and puts it in the callback URLs' userinfo, only in the answer to the create.",
  }),
});

const RequestHeaderSchema = Type.Object({
  name: Type.String(),
  value: Nullable(Type.String({ description: 'The same on every request.' })),
  from: Nullable(
    Type.Union(
      [
        Type.Literal('event_type'),
        Type.Literal('delivery_id'),
        Type.Literal('attempt_start'),
        Type.Literal('signature'),
        Type.Literal('standard_signature'),
      ],
      {
        description:
          "Where the value comes from otherwise: the delivery's event type or id, the attempt's start in Unix seconds, or a signature (`signature`: X-Webhook-Signature, `standard_signature`: webhook-signature; sent only when the webhook has a secret).",
      },
    ),
  ),
});

export const ApiMetaSchema = Type.Object({
  channelTypes: Type.Array(ChannelTypeInfoSchema),
  webhooks: Type.Object({
    retryPolicy: Type.Object({
      default: Type.Array(Type.Integer(), { description: 'Delays in seconds.' }),
      maxRetries: Type.Integer(),
      minDelaySeconds: Type.Integer(),
      maxDelaySeconds: Type.Integer(),
    }),
    customHeaders: Type.Object({
      max: Type.Integer(),
      refused: Type.Array(Type.String(), {
        description: 'Lower-case names a webhook may not set (its own and hop-by-hop ones).',
      }),
    }),
    defaultSurveyEvents: Type.Array(Type.String()),
    disableAfterConsecutiveFailures: Type.Integer(),
  }),
  deliveries: Type.Object({
    statuses: Type.Array(Type.String()),
    requestHeaders: Type.Array(RequestHeaderSchema, {
      description: 'Sent on every delivery, in this order, after the custom headers.',
    }),
    testEventType: Type.String({ description: 'The event type of a test delivery.' }),
    responseBodyLimitBytes: Type.Integer({
      description: "How much of a receiver's response body an attempt keeps.",
    }),
  }),
  ticketPriorities: Type.Array(Type.String(), { description: 'Lowest first.' }),
});

export type ApiMeta = Static<typeof ApiMetaSchema>;

function channelTypes(): ApiMeta['channelTypes'] {
  return CHANNEL_TYPES.map((type) => {
    const spec = CHANNEL_SPECS[type];
    return {
      type,
      label: spec.label,
      fields: spec.fields.map((f) => ({
        name: f.name,
        label: f.label,
        help: f.help,
        secret: f.secret,
        optional: f.optional ?? false,
        multiline: f.multiline ?? false,
        setFlag: f.secret && f.optional ? configFlag(f.name) : null,
      })),
      callbacks: Object.fromEntries(
        Object.entries(spec.callbacks).map(([key, c]) => [
          key,
          { where: c.where, token: c.token ?? null },
        ]),
      ),
      generatesBasicAuth: spec.generate !== undefined,
    };
  });
}

/** Built once: every part is a constant. */
function describe(): ApiMeta {
  return {
    channelTypes: channelTypes(),
    webhooks: {
      retryPolicy: {
        default: [...DEFAULT_RETRY_POLICY],
        maxRetries: MAX_RETRIES,
        minDelaySeconds: MIN_RETRY_DELAY_S,
        maxDelaySeconds: MAX_RETRY_DELAY_S,
      },
      customHeaders: { max: MAX_HEADERS, refused: [...RESERVED_HEADERS] },
      defaultSurveyEvents: [...DEFAULT_SURVEY_EVENTS],
      disableAfterConsecutiveFailures: DISABLE_AFTER_CONSECUTIVE_FAILURES,
    },
    deliveries: {
      statuses: [...DELIVERY_STATUSES],
      requestHeaders: DELIVERY_HEADERS.map((h) =>
        'value' in h
          ? { name: h.name, value: h.value, from: null }
          : { name: h.name, value: null, from: h.from },
      ),
      testEventType: TEST_EVENT_TYPE,
      responseBodyLimitBytes: RESPONSE_BODY_LIMIT,
    },
    ticketPriorities: [...TICKET_PRIORITIES],
  };
}

export function apiMetaRoutes(): FastifyPluginAsyncTypebox {
  const meta = describe();
  return async (app) => {
    app.get(
      '/api/meta',
      {
        schema: {
          tags: [TAG.meta],
          summary: "Get the server's lists and rules",
          description:
            "This server's fixed lists and rules: channel types and their credential fields, webhook defaults and limits, delivery statuses and the request headers Hookdesk sets. Any API key may read it.",
          // The answer is a constant: it is its own example.
          response: { 200: withExamples(ApiMetaSchema, meta), 401: errorResponses[401] },
        },
      },
      () => meta,
    );
  };
}
