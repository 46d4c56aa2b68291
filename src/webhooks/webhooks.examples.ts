/**
 * Example webhooks, deliveries, events, recoveries and stats for /docs (see
 * `withExamples`, http/schemas.ts), ticket and survey webhooks alike.
 */
import type { Static } from '@sinclair/typebox';
import type { DeliveryDetailSchema, DeliverySchema } from '../delivery/dto.js';
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';
import { ticketExample } from '../tickets/tickets.examples.js';
import type { WebhookKind, WebhookSchema } from './webhooks.schemas.js';

type Webhook = Static<typeof WebhookSchema>;
type Delivery = Static<typeof DeliverySchema>;
type DeliveryDetail = Static<typeof DeliveryDetailSchema>;
type Attempt = DeliveryDetail['attempts'][number];

const GENERATED_SECRET = 'whsec_LGFR2PelXhgao9FcE+9DcxgO/NLj7wAJg7Rcxm/UaEs=';

export const ticketWebhookExample: Webhook = {
  id: EXAMPLE_ID.webhook,
  organizationId: EXAMPLE_ID.organization,
  surveyId: null,
  name: 'CRM sync',
  url: 'https://example.com/hooks/hookdesk',
  events: ['ticket.created', 'ticket.status_changed', 'message.created'],
  hasSecret: true,
  previousSecretExpiresAt: null,
  headers: { 'X-Api-Key': '********' },
  active: true,
  retryPolicy: [1, 5, 30, 300, 1800, 7200],
  rateLimitPerSecond: null,
  filter: { 'data.ticket.priority': { $in: ['high', 'urgent'] } },
  ordering: 'ticket',
  consecutiveFailures: 0,
  disabledAt: null,
  disabledReason: null,
  lastDeliveryAt: EXAMPLE_AT.sent,
  createdAt: EXAMPLE_AT.created,
  updatedAt: EXAMPLE_AT.created,
};

export const surveyWebhookExample: Webhook = {
  ...ticketWebhookExample,
  id: EXAMPLE_ID.surveyWebhook,
  surveyId: EXAMPLE_ID.survey,
  name: 'NPS to data warehouse',
  url: 'https://example.com/hooks/surveys',
  events: ['survey.response_completed'],
  headers: {},
  filter: null,
  ordering: 'none',
};

export const webhookExample = (kind: WebhookKind): Webhook =>
  kind === 'ticket' ? ticketWebhookExample : surveyWebhookExample;

/** The create body; without `secret`, so the answer shows the generated one. */
export function createWebhookExample(kind: WebhookKind) {
  const hook = webhookExample(kind);
  return {
    name: hook.name,
    url: hook.url,
    events: hook.events,
    ...(kind === 'ticket'
      ? {
          headers: { 'X-Api-Key': 'c2VjcmV0LWFwaS1rZXk' },
          filter: ticketWebhookExample.filter,
          ordering: 'ticket' as const,
        }
      : {}),
  };
}

export const createdWebhookExample = (kind: WebhookKind) => ({
  ...webhookExample(kind),
  lastDeliveryAt: null,
  secret: GENERATED_SECRET,
});

export const patchWebhookExample = {
  active: true,
  retryPolicy: [10, 60, 600],
  rateLimitPerSecond: 20,
};

export const patchedWebhookExample = (kind: WebhookKind): Webhook => ({
  ...webhookExample(kind),
  ...patchWebhookExample,
  updatedAt: EXAMPLE_AT.updated,
});

export const rotateBodyExample = { overlapHours: 24 };

export const rotateAnswerExample = {
  secret: 'whsec_qS2yi9g/93XceXQjYG7FYFUbOkS1Q6/fRaZMASpwvt0=',
  previousSecretExpiresAt: '2026-01-16T10:00:00.000Z',
};

/** The envelope a ticket webhook receives for `ticket.created`. */
export const ticketCreatedEnvelope = {
  organizationId: EXAMPLE_ID.organization,
  eventType: 'ticket.created',
  eventId: EXAMPLE_ID.event,
  timestamp: EXAMPLE_AT.created,
  data: { ticket: ticketExample },
};

export const deliveryExample: Delivery = {
  id: EXAMPLE_ID.delivery,
  webhookId: EXAMPLE_ID.webhook,
  eventId: EXAMPLE_ID.event,
  eventType: 'ticket.created',
  status: 'succeeded',
  attemptCount: 2,
  nextAttemptAt: null,
  createdAt: EXAMPLE_AT.created,
  completedAt: '2026-01-15T09:04:23.284Z',
};

/** An attempt the receiver answered with a 200. */
const answered: Attempt = {
  number: 1,
  startedAt: '2026-01-15T09:04:23.112Z',
  durationMs: 172,
  statusCode: 200,
  responseHeaders: { 'content-type': 'application/json', 'content-length': '11' },
  responseBody: '{"ok":true}',
  responseBodyTruncated: false,
  error: null,
};

export const deliveryDetailExample: DeliveryDetail = {
  ...deliveryExample,
  payload: JSON.stringify(ticketCreatedEnvelope),
  heldBackBy: null,
  attempts: [
    {
      number: 1,
      startedAt: '2026-01-15T09:04:12.031Z',
      durationMs: 10_000,
      statusCode: null,
      responseHeaders: null,
      responseBody: null,
      responseBodyTruncated: false,
      error: { code: 'timeout', message: 'No complete response within 10000 ms.' },
    },
    { ...answered, number: 2 },
  ],
};

/** `retry`: the delivery queued again, due now. */
export const retriedDeliveryExample: Delivery = {
  ...deliveryExample,
  status: 'pending',
  nextAttemptAt: EXAMPLE_AT.now,
  completedAt: null,
};

/** `test`: one `webhook.test` delivery, sent at once. */
export const testDeliveryExample: DeliveryDetail = {
  ...deliveryDetailExample,
  eventType: 'webhook.test',
  attemptCount: 1,
  createdAt: EXAMPLE_AT.now,
  completedAt: '2026-01-15T10:00:00.168Z',
  payload: JSON.stringify({
    organizationId: EXAMPLE_ID.organization,
    eventType: 'webhook.test',
    eventId: EXAMPLE_ID.event,
    timestamp: EXAMPLE_AT.now,
    data: {
      webhook: { id: EXAMPLE_ID.webhook, name: ticketWebhookExample.name },
      message: 'This is a test delivery from Hookdesk.',
    },
  }),
  attempts: [{ ...answered, startedAt: '2026-01-15T10:00:00.003Z', durationMs: 165 }],
};

export const eventExample = {
  id: EXAMPLE_ID.event,
  type: 'ticket.created',
  createdAt: EXAMPLE_AT.created,
  payload: ticketCreatedEnvelope,
};

export const eventDetailExample = { ...eventExample, deliveries: [deliveryExample] };

export const recoverBodyExample = {
  since: '2026-01-15T06:00:00.000Z',
  until: '2026-01-15T09:00:00.000Z',
};

export const recoveryExample = {
  id: EXAMPLE_ID.recovery,
  webhookId: EXAMPLE_ID.webhook,
  ...recoverBodyExample,
  status: 'running' as const,
  deliveriesQueued: 0,
  error: null,
  createdAt: EXAMPLE_AT.now,
  completedAt: null,
};

export const finishedRecoveryExample = {
  ...recoveryExample,
  status: 'done' as const,
  deliveriesQueued: 37,
  completedAt: '2026-01-15T10:00:02.410Z',
};

export const statsExample = {
  webhookId: EXAMPLE_ID.webhook,
  hours: 3,
  from: '2026-01-15T07:00:00.000Z',
  to: EXAMPLE_AT.now,
  totals: { attempts: 41, succeeded: 38, httpError: 2, noResponse: 1, successRate: 38 / 41 },
  buckets: [
    { hour: '2026-01-15T07:00:00.000Z', succeeded: 12, httpError: 0, noResponse: 0 },
    { hour: '2026-01-15T08:00:00.000Z', succeeded: 9, httpError: 2, noResponse: 1 },
    { hour: '2026-01-15T09:00:00.000Z', succeeded: 17, httpError: 0, noResponse: 0 },
  ],
};
