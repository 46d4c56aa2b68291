/**
 * Wire shapes of tickets, messages and contacts (docs/api.md, "Resources"),
 * shared by routes, OpenAPI and the event catalogue.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, Timestamp, Uuid } from '../http/schemas.js';

export const TICKET_STATUSES = ['open', 'pending', 'resolved', 'closed'] as const;
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const CHANNELS = ['email', 'sms', 'whatsapp', 'web', 'api'] as const;

export const TicketStatusSchema = Type.Union(TICKET_STATUSES.map((s) => Type.Literal(s)));
export const TicketPrioritySchema = Type.Union(TICKET_PRIORITIES.map((s) => Type.Literal(s)));
export const ChannelSchema = Type.Union(CHANNELS.map((s) => Type.Literal(s)));

export const RequesterSchema = Type.Object({
  contactId: Uuid,
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  name: Nullable(Type.String()),
});

export const SLA_STATES = ['none', 'running', 'paused', 'at_risk', 'met', 'breached'] as const;
const SlaMetricSchema = Type.Object({
  dueAt: Nullable(Timestamp),
  state: Type.Union(SLA_STATES.map((s) => Type.Literal(s))),
});

export const TicketSchema = Type.Object({
  id: Uuid,
  number: Type.Integer(),
  organizationId: Uuid,
  subject: Type.String(),
  description: Nullable(Type.String()),
  status: TicketStatusSchema,
  priority: TicketPrioritySchema,
  channel: ChannelSchema,
  requester: RequesterSchema,
  assigneeId: Nullable(Uuid),
  tags: Type.Array(Type.String()),
  firstResponseDueAt: Nullable(Timestamp),
  resolutionDueAt: Nullable(Timestamp),
  /** Each SLA metric's due time and state (paused while the ticket is pending). */
  sla: Type.Object({ firstResponse: SlaMetricSchema, resolution: SlaMetricSchema }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  resolvedAt: Nullable(Timestamp),
  closedAt: Nullable(Timestamp),
});
export type TicketDto = Static<typeof TicketSchema>;

export const AttachmentSchema = Type.Object({
  filename: Type.String(),
  contentType: Nullable(Type.String()),
  size: Nullable(Type.Integer()),
  url: Nullable(Type.String()),
});
export type AttachmentDto = Static<typeof AttachmentSchema>;

export const MessageSchema = Type.Object({
  id: Uuid,
  ticketId: Uuid,
  direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
  channel: ChannelSchema,
  body: Type.String({
    description: 'For inbound email, the reply with quoted text and signature removed.',
  }),
  bodyFull: Type.String({
    description:
      'The whole text as received, quoted replies included; equals `body` when nothing was removed.',
  }),
  bodyHtml: Nullable(Type.String()),
  authorId: Nullable(Uuid),
  contactId: Nullable(Uuid),
  emailMessageId: Nullable(Type.String()),
  providerMessageId: Nullable(Type.String()),
  deliveryStatus: Nullable(Type.String()),
  deliveryError: Nullable(Type.String()),
  attachments: Type.Array(AttachmentSchema),
  createdAt: Timestamp,
});
export type MessageDto = Static<typeof MessageSchema>;

export const ContactSchema = Type.Object({
  id: Uuid,
  organizationId: Uuid,
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  name: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type ContactDto = Static<typeof ContactSchema>;
