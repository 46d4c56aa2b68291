/**
 * The event catalogue (SPEC §4): every event type, when it fires, and a JSON
 * Schema of its `data`. Served by `GET /api/event-types`; webhook
 * subscriptions are validated against it.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Timestamp } from '../http/schemas.js';
import { MessageSchema, TicketSchema } from '../tickets/tickets.schemas.js';
import { SurveyResponseCompletedDataSchema } from '../surveys/surveys.schemas.js';

export const TICKET_EVENT_TYPES = [
  'ticket.created',
  'ticket.updated',
  'ticket.status_changed',
  'ticket.resolved',
  'ticket.closed',
  'ticket.assigned',
  'ticket.sla_warning',
  'ticket.sla_breached',
  'message.created',
] as const;
export type TicketEventType = (typeof TICKET_EVENT_TYPES)[number];

export const SURVEY_EVENT_TYPES = ['survey.response_completed'] as const;
export type SurveyEventType = (typeof SURVEY_EVENT_TYPES)[number];

export type EventType = TicketEventType | SurveyEventType;

const ticket = TicketSchema;
const message = MessageSchema;
const change = Type.Object({ from: Type.Unknown(), to: Type.Unknown() });
const sla = Type.Object({
  metric: Type.Union([Type.Literal('first_response'), Type.Literal('resolution')]),
  dueAt: Timestamp,
});

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
    type: 'survey.response_completed',
    family: 'survey',
    description: 'A survey response is completed.',
    schema: SurveyResponseCompletedDataSchema,
  },
];
