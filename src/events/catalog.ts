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

/**
 * Events about the organization's set-up rather than a ticket: the ticket
 * envelope (`organizationId`) with no ticket, received by ticket webhooks.
 */
export const ORGANIZATION_EVENT_TYPES = ['webhook.disabled'] as const;
export type OrganizationEventType = (typeof ORGANIZATION_EVENT_TYPES)[number];

/** What a ticket webhook may subscribe to; survey webhooks take `SURVEY_EVENT_TYPES`. */
export const TICKET_WEBHOOK_EVENT_TYPES = [...TICKET_EVENT_TYPES, ...ORGANIZATION_EVENT_TYPES];

export type EventType = TicketEventType | SurveyEventType | OrganizationEventType;
