/** Adding a message to a ticket, with its `message.created` event in the same transaction. */
import type { Clock } from '../clock.js';
import type { Channel, Executor, MessageDirection, MessagesTable } from '../db/schema.js';
import { invalid } from '../errors.js';
import { emitEvents } from '../events/outbox.js';
import { newId } from '../ids.js';
import { findUser } from '../users/users.repository.js';
import { enqueueTicketEmail, outboundEmailFields } from '../mail/ticket-email.js';
import { recordFirstResponse } from '../sla/timers.js';
import { insertMessage, toMessageDto } from './messages.repository.js';
import { messageCreatedEvent } from './ticket-events.js';
import { getTicket, toTicketDto } from './tickets.repository.js';
import type { AttachmentDto, MessageDto } from './tickets.schemas.js';

export interface NewMessage {
  body: string;
  bodyHtml?: string | undefined;
  direction?: MessageDirection | undefined;
  authorId?: string | undefined;
  channel?: Channel | undefined;
  // Set by inbound adapters (email, provider channels), never by the public API:
  /** The whole received text when `body` is a stripped version of it. */
  bodyFull?: string | undefined;
  /** Sender of an inbound message. (Default: the ticket's requester) */
  contactId?: string | undefined;
  /** Bracketed `<id@host>` of a received email. */
  emailMessageId?: string | undefined;
  providerMessageId?: string | undefined;
  attachments?: AttachmentDto[] | undefined;
}

export interface MessageOptions {
  /** Domain of the Message-ID given to outbound email (the host of HOOKDESK_PUBLIC_URL). (Default: "localhost") */
  emailDomain?: string;
}

/**
 * `callerUserId` authors outbound messages that name no author. Inbound
 * messages come from the ticket's requester contact unless the adapter names
 * the sender. An outbound message on the email channel gets a Message-ID,
 * the status `queued` and an `email.send` job, all in this transaction.
 */
export async function createMessage(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  ticketId: string,
  input: NewMessage,
  callerUserId: string | null,
  options: MessageOptions = {},
): Promise<MessageDto> {
  const ticket = await getTicket(trx, organizationId, ticketId);
  const direction = input.direction ?? 'outbound';
  if (input.authorId !== undefined && !(await findUser(trx, organizationId, input.authorId))) {
    throw invalid('authorId', 'is not a user of this organization');
  }
  const now = clock.now();
  const channel = input.channel ?? ticket.channel;
  const sendsEmail = direction === 'outbound' && channel === 'email';
  const row: MessagesTable = {
    id: newId(),
    organization_id: organizationId,
    ticket_id: ticket.id,
    direction,
    channel,
    body: input.body,
    body_full: input.bodyFull ?? null,
    body_html: input.bodyHtml ?? null,
    author_id: input.authorId ?? (direction === 'outbound' ? callerUserId : null),
    contact_id: direction === 'inbound' ? (input.contactId ?? ticket.contact_id) : null,
    email_message_id: input.emailMessageId ?? null,
    provider_message_id: input.providerMessageId ?? null,
    delivery_status: null,
    delivery_error: null,
    ...(sendsEmail
      ? outboundEmailFields(ticket.contact_email, options.emailDomain ?? 'localhost')
      : {}),
    attachments: JSON.stringify(input.attachments ?? []),
    created_at: now,
    updated_at: now,
  };
  await insertMessage(trx, row);
  if (row.delivery_status === 'queued') await enqueueTicketEmail(trx, now, row);
  const answered =
    direction === 'outbound' ? await recordFirstResponse(trx, clock, ticket) : ticket;
  const message = toMessageDto(row);
  await emitEvents(trx, clock, [messageCreatedEvent(toTicketDto(answered), message)]);
  return message;
}
