/**
 * The event catalogue: every event type, when it fires, and a JSON
 * Schema of its `data`. Served by `GET /api/event-types`. The type names
 * themselves live with the outbox (src/events/catalog.ts); this list sits in
 * a feature because it shows the tickets' and surveys' own schemas.
 *
 * `family` says which webhooks may subscribe: `ticket` (ticket webhooks, the
 * `organizationId` envelope; this includes the organization's own events such
 * as `webhook.disabled`) or `survey`.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { DISABLE_AFTER_CONSECUTIVE_FAILURES } from '../delivery/policy.js';
import type { EventType } from '../events/catalog.js';
import { Nullable, Timestamp, Uuid } from '../http/schemas.js';
import { MessageSchema, TicketSchema } from '../tickets/tickets.schemas.js';
import { SurveyResponseCompletedDataSchema } from '../surveys/surveys.schemas.js';

const ticket = TicketSchema;
const message = MessageSchema;
const change = Type.Object({ from: Type.Unknown(), to: Type.Unknown() });
const sla = Type.Object({
  metric: Type.Union([Type.Literal('first_response'), Type.Literal('resolution')]),
  dueAt: Timestamp,
});

const disabledWebhook = Type.Object({
  id: Uuid,
  name: Type.String(),
  url: Type.String(),
  surveyId: Type.Union([Uuid, Type.Null()], { description: 'Set for a survey webhook.' }),
});
const lastError = Type.Object(
  {
    statusCode: Nullable(Type.Integer()),
    code: Nullable(Type.String()),
    message: Nullable(Type.String()),
  },
  {
    description:
      'The last attempt: the status of its answer (null when none came), and the code and ' +
      'message of its error (null when the receiver answered).',
  },
);

export interface EventTypeInfo {
  type: EventType;
  family: 'ticket' | 'survey';
  description: string;
  schema: TSchema;
}

export const EVENT_CATALOGUE: readonly EventTypeInfo[] = [
  {
    type: 'ticket.created',
    family: 'ticket',
    description: 'A ticket is created (by API, inbound email or a channel).',
    schema: Type.Object({ ticket }),
  },
  {
    type: 'ticket.updated',
    family: 'ticket',
    description: 'Any field of a ticket changes; `changes` maps each field to {from, to}.',
    schema: Type.Object({ ticket, changes: Type.Record(Type.String(), change) }),
  },
  {
    type: 'ticket.status_changed',
    family: 'ticket',
    description: 'The status changes.',
    schema: Type.Object({ ticket, previousStatus: Type.String() }),
  },
  {
    type: 'ticket.resolved',
    family: 'ticket',
    description: 'The status becomes `resolved`.',
    schema: Type.Object({ ticket }),
  },
  {
    type: 'ticket.closed',
    family: 'ticket',
    description: 'The status becomes `closed`.',
    schema: Type.Object({ ticket }),
  },
  {
    type: 'ticket.assigned',
    family: 'ticket',
    description: 'The assignee becomes a (new) user, including at creation.',
    schema: Type.Object({ ticket, previousAssigneeId: Type.Union([Type.String(), Type.Null()]) }),
  },
  {
    type: 'ticket.sla_warning',
    family: 'ticket',
    description:
      'An SLA due time is near (the warning percentage of the target elapsed) and not yet met.',
    schema: Type.Object({ ticket, sla }),
  },
  {
    type: 'ticket.sla_breached',
    family: 'ticket',
    description: 'An SLA due time passed unmet.',
    schema: Type.Object({ ticket, sla }),
  },
  {
    type: 'message.created',
    family: 'ticket',
    description: 'A message is added to a ticket (agent reply, inbound email, SMS, WhatsApp).',
    schema: Type.Object({ ticket, message }),
  },
  {
    type: 'webhook.disabled',
    family: 'ticket',
    description:
      'Hookdesk disabled a webhook of the organization, a ticket or a survey webhook: after ' +
      `${DISABLE_AFTER_CONSECUTIVE_FAILURES} ` +
      'consecutive failures (`consecutive_failures`) or a `410 Gone` (`gone`). Not raised when a ' +
      'webhook is deactivated by hand. Only ticket webhooks subscribe to it.',
    schema: Type.Object({
      webhook: disabledWebhook,
      reason: Type.Union([Type.Literal('consecutive_failures'), Type.Literal('gone')]),
      lastError,
    }),
  },
  {
    type: 'survey.response_completed',
    family: 'survey',
    description: 'A survey response is completed.',
    schema: SurveyResponseCompletedDataSchema,
  },
];
