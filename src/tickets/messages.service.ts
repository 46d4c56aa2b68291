/** Adding a message to a ticket, with its `message.created` event in the same transaction. */
import type { Clock } from '../clock.js';
import type { Channel, Executor, MessageDirection, MessagesTable } from '../db/schema.js';
import { invalid } from '../errors.js';
import { emitEvents } from '../events/outbox.js';
import { newId } from '../ids.js';
import { findUser } from '../users/users.repository.js';
import { recordFirstResponse } from '../sla/timers.js';
import { insertMessage, toMessageDto } from './messages.repository.js';
import { messageCreatedEvent } from './ticket-events.js';
import { getTicket, toTicketDto } from './tickets.repository.js';
import type { MessageDto } from './tickets.schemas.js';

export interface NewMessage {
  body: string;
  bodyHtml?: string | undefined;
  direction?: MessageDirection | undefined;
  authorId?: string | undefined;
  channel?: Channel | undefined;
}

/**
 * `callerUserId` authors outbound messages that name no author. Inbound
 * messages come from the ticket's requester contact. Sending by email or a
 * provider, and with it a delivery status, is not wired yet.
 */
export async function createMessage(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  ticketId: string,
  input: NewMessage,
  callerUserId: string | null,
): Promise<MessageDto> {
  const ticket = await getTicket(trx, organizationId, ticketId);
  const direction = input.direction ?? 'outbound';
  if (input.authorId !== undefined && !(await findUser(trx, organizationId, input.authorId))) {
    throw invalid('authorId', 'is not a user of this organization');
  }
  const now = clock.now();
  const row: MessagesTable = {
    id: newId(),
    organization_id: organizationId,
    ticket_id: ticket.id,
    direction,
    channel: input.channel ?? ticket.channel,
    body: input.body,
    body_html: input.bodyHtml ?? null,
    author_id: input.authorId ?? (direction === 'outbound' ? callerUserId : null),
    contact_id: direction === 'inbound' ? ticket.contact_id : null,
    email_message_id: null,
    provider_message_id: null,
    delivery_status: null,
    delivery_error: null,
    attachments: '[]',
    created_at: now,
    updated_at: now,
  };
  await insertMessage(trx, row);
  const answered =
    direction === 'outbound' ? await recordFirstResponse(trx, clock, ticket) : ticket;
  const message = toMessageDto(row);
  await emitEvents(trx, clock, [messageCreatedEvent(toTicketDto(answered), message)]);
  return message;
}
