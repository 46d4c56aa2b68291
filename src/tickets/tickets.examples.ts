/** Example tickets, messages and contacts for /docs (see `withExamples`, http/schemas.ts). */
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';
import type { ContactDto, MessageDto, TicketDto } from './tickets.schemas.js';

export const contactExample: ContactDto = {
  id: EXAMPLE_ID.contact,
  organizationId: EXAMPLE_ID.organization,
  email: 'maria.lopez@example.com',
  phone: '+14155550123',
  name: 'María López',
  createdAt: EXAMPLE_AT.created,
  updatedAt: EXAMPLE_AT.created,
};

export const createContactExample = {
  email: 'maria.lopez@example.com',
  phone: '+14155550123',
  name: 'María López',
};

export const patchContactExample = { name: 'María López García', phone: null };

export const patchedContactExample: ContactDto = {
  ...contactExample,
  ...patchContactExample,
  updatedAt: EXAMPLE_AT.updated,
};

export const ticketExample: TicketDto = {
  id: EXAMPLE_ID.ticket,
  number: 42,
  organizationId: EXAMPLE_ID.organization,
  subject: 'Invoice #1042 charged twice',
  description: 'My card was charged twice for the January invoice. Can you refund one?',
  status: 'open',
  priority: 'high',
  channel: 'email',
  requester: {
    contactId: EXAMPLE_ID.contact,
    email: 'maria.lopez@example.com',
    phone: '+14155550123',
    name: 'María López',
  },
  assigneeId: EXAMPLE_ID.agent,
  tags: ['billing', 'refund'],
  firstResponseDueAt: '2026-01-15T13:04:12.000Z',
  resolutionDueAt: '2026-01-16T09:04:12.000Z',
  sla: {
    firstResponse: { dueAt: '2026-01-15T13:04:12.000Z', state: 'running' },
    resolution: { dueAt: '2026-01-16T09:04:12.000Z', state: 'running' },
  },
  createdAt: EXAMPLE_AT.created,
  updatedAt: EXAMPLE_AT.created,
  resolvedAt: null,
  closedAt: null,
};

export const createTicketExample = {
  subject: 'Invoice #1042 charged twice',
  description: 'My card was charged twice for the January invoice. Can you refund one?',
  priority: 'high' as const,
  requester: { email: 'maria.lopez@example.com', name: 'María López' },
  assigneeId: EXAMPLE_ID.agent,
  tags: ['billing', 'refund'],
  channel: 'email' as const,
};

export const patchTicketExample = { status: 'pending' as const, tags: ['billing', 'refund'] };

export const pendingTicketExample: TicketDto = {
  ...ticketExample,
  status: 'pending',
  sla: {
    firstResponse: { dueAt: '2026-01-15T13:04:12.000Z', state: 'met' },
    resolution: { dueAt: '2026-01-16T09:04:12.000Z', state: 'paused' },
  },
  updatedAt: EXAMPLE_AT.updated,
};

export const messageExample: MessageDto = {
  id: EXAMPLE_ID.message,
  ticketId: EXAMPLE_ID.ticket,
  direction: 'outbound',
  channel: 'email',
  body: 'Hi María, we have refunded the duplicate charge; it shows on your card within 5 days.',
  bodyFull: 'Hi María, we have refunded the duplicate charge; it shows on your card within 5 days.',
  bodyHtml: null,
  authorId: EXAMPLE_ID.agent,
  contactId: null,
  emailMessageId: '<019bc0e6-a683-7ab5-b0a1-3e45914982b7@help.example.com>',
  providerMessageId: null,
  deliveryStatus: 'queued',
  deliveryError: null,
  attachments: [],
  createdAt: EXAMPLE_AT.updated,
};

export const createMessageExample = {
  body: messageExample.body,
  direction: 'outbound' as const,
  channel: 'email' as const,
};
