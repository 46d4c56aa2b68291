/** Wire shapes of deliveries and attempts (docs/api.md, "Delivery log"). */
import { Type } from '@sinclair/typebox';
import { iso } from '../clock.js';
import type { DeliveriesTable, DeliveryAttemptsTable } from '../db/schema.js';
import { Nullable, Timestamp, Uuid } from '../http/schemas.js';

export const DELIVERY_STATUSES = [
  'pending',
  'delivering',
  'succeeded',
  'failed',
  'cancelled',
] as const;

export const DeliverySchema = Type.Object({
  id: Uuid,
  webhookId: Uuid,
  eventId: Uuid,
  eventType: Type.String(),
  status: Type.String({ enum: [...DELIVERY_STATUSES] }),
  attemptCount: Type.Integer(),
  nextAttemptAt: Nullable(Timestamp),
  createdAt: Timestamp,
  completedAt: Nullable(Timestamp),
});

export const AttemptSchema = Type.Object({
  number: Type.Integer(),
  startedAt: Timestamp,
  durationMs: Type.Integer(),
  statusCode: Nullable(Type.Integer()),
  responseHeaders: Nullable(
    Type.Record(Type.String(), Type.String(), {
      description:
        "The response's headers, each byte read as one Latin-1 character and NUL (U+0000) replaced by U+FFFD. Null without a response, or when the response could not be stored (error `response_not_stored`).",
    }),
  ),
  responseBody: Nullable(
    Type.String({
      description:
        'The first 4,096 bytes of the response body decoded as UTF-8: invalid sequences and NUL (U+0000) become U+FFFD, nothing else is changed. Null without a response, or when the response could not be stored (error `response_not_stored`).',
    }),
  ),
  responseBodyTruncated: Type.Boolean(),
  error: Nullable(
    Type.Object(
      { code: Type.String(), message: Type.String() },
      {
        description:
          'Why the attempt failed (`timeout`, `redirect`, …), or `response_not_stored`, success or not, when the database refused the response and it was dropped.',
      },
    ),
  ),
});

export const DeliveryDetailSchema = Type.Composite([
  DeliverySchema,
  Type.Object({
    payload: Type.String({ description: 'The exact request body sent on every attempt.' }),
    heldBackBy: Nullable(
      Type.Object(
        {
          deliveryId: Uuid,
          status: Type.String({ enum: ['pending', 'delivering'] }),
        },
        {
          description:
            'For a pending delivery of a webhook with `ordering: "ticket"`: the earlier delivery of the same ticket (or survey response) that must finish first, pending (perhaps waiting for a retry) or in flight. Null when nothing holds this one back.',
        },
      ),
    ),
    attempts: Type.Array(AttemptSchema),
  }),
]);

export function toDeliveryDto(row: DeliveriesTable) {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    attemptCount: row.attempt_count,
    nextAttemptAt: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    createdAt: iso(row.created_at),
    completedAt: iso(row.completed_at),
  };
}

export function toAttemptDto(row: DeliveryAttemptsTable) {
  return {
    number: row.number,
    startedAt: iso(row.started_at),
    durationMs: row.duration_ms,
    statusCode: row.status_code,
    responseHeaders:
      row.response_headers === null
        ? null
        : (JSON.parse(row.response_headers) as Record<string, string>),
    responseBody: row.response_body,
    responseBodyTruncated: row.response_body_truncated === 1,
    error:
      row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
  };
}

export function toDeliveryDetail(
  row: DeliveriesTable,
  attempts: DeliveryAttemptsTable[],
  heldBackBy: { deliveryId: string; status: string } | null = null,
) {
  return {
    ...toDeliveryDto(row),
    payload: row.payload,
    heldBackBy,
    attempts: attempts.map(toAttemptDto),
  };
}
