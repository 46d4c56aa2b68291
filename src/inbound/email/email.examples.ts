/**
 * Example calls of the email RPC endpoints for /docs (see `withExamples`,
 * http/schemas.ts): a customer's reply to ticket 42, and its status callback.
 */
import { EXAMPLE_ID } from '../../http/shared.examples.js';

export const inboundEmailExample = {
  organizationId: EXAMPLE_ID.organization,
  from: 'María López <maria.lopez@example.com>',
  to: 'support@help.example.com',
  subject: 'Re: [#42] Invoice #1042 charged twice',
  text: 'Thanks, I see the refund now.\n\nOn Thu, Jan 15, Sam wrote:\n> we have refunded the duplicate charge',
  messageId: '<CAF=k2Lx8q@mail.example.com>',
  inReplyTo: '<019bc0e6-a683-7ab5-b0a1-3e45914982b7@help.example.com>',
  references: '<019bc0e6-a683-7ab5-b0a1-3e45914982b7@help.example.com>',
  attachments: [],
};

export const inboundEmailAnswerExample = {
  success: true as const,
  ticketId: EXAMPLE_ID.ticket,
  messageId: EXAMPLE_ID.reply,
};

export const deliveryStatusExample = {
  providerMessageId: '<019bc0e6-a683-7ab5-b0a1-3e45914982b7@help.example.com>',
  event: 'delivered' as const,
  timestamp: '2026-01-15T09:31:05.000Z',
};

export const deliveryStatusAnswerExample = { success: true as const };
