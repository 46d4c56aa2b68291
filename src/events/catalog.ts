/**
 * The event types: what the outbox accepts and webhook
 * subscriptions are validated against. When each fires and the schema of its
 * `data` are documented in src/webhooks/event-catalogue.ts, beside the
 * features' schemas it uses.
 */

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
