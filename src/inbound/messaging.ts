/**
 * Threading of messaging channels (SMS, WhatsApp): an inbound message from a
 * phone joins that contact's open or pending ticket on the same channel, or
 * opens a new ticket (raising `ticket.created`); either way the message
 * raises `message.created`. Runs in the caller's transaction, after the
 * adapter has verified the provider's signature and deduplicated the event.

 */
import type { Clock } from '../clock.js';
import { findOrCreateContact, normalizePhone } from '../contacts/contacts.repository.js';
import type { ChannelsTable, Executor } from '../db/schema.js';
import { createMessage } from '../tickets/messages.service.js';
import type { MessageDto } from '../tickets/tickets.schemas.js';
import { createTicket } from '../tickets/tickets.service.js';

export type MessagingMedium = 'sms' | 'whatsapp';

export interface InboundChannelMessage {
  channel: ChannelsTable;
  medium: MessagingMedium;
  /** The sender's phone in any common spelling (`+1…`, `whatsapp:+1…`, bare digits). */
  from: string;
  /** The sender's profile name, when the provider tells it. */
  fromName?: string | undefined;
  body: string;
  /** The provider's id of this message (Twilio MessageSid, Meta wamid). */
  providerMessageId: string;
  attachments: MessageDto['attachments'];
}

export interface ReceivedChannelMessage {
  ticketId: string;
  messageId: string;
  ticketCreated: boolean;
}

const SUBJECT_LENGTH = 80;

/**
 * The canonical phone of a sender (E.164 with `+`), or null when it is none
 * (alphanumeric sender ids). Bare digits, as WhatsApp ids come, are E.164
 * without the plus, so the same person found by Twilio and by Meta is one contact.
 */
export function senderPhone(from: string): string | null {
  const number = normalizePhone(from.replace(/^whatsapp:/i, ''));
  if (number === null) return null;
  return number.startsWith('+') ? number : `+${number}`;
}

function subjectOf(message: InboundChannelMessage, phone: string): string {
  const firstLine = message.body.split(/\r?\n/, 1)[0]?.trim() ?? '';
  if (firstLine !== '') {
    return firstLine.length > SUBJECT_LENGTH
      ? `${firstLine.slice(0, SUBJECT_LENGTH - 1)}…`
      : firstLine;
  }
  return `${message.medium === 'sms' ? 'SMS' : 'WhatsApp message'} from ${phone}`;
}

/** The contact's newest open or pending ticket on this channel. */
async function openTicketOn(
  trx: Executor,
  channel: ChannelsTable,
  contactId: string,
): Promise<string | undefined> {
  const row = await trx
    .selectFrom('channel_tickets')
    .innerJoin('tickets', 'tickets.id', 'channel_tickets.ticket_id')
    .select('tickets.id')
    .where('channel_tickets.channel_id', '=', channel.id)
    .where('channel_tickets.contact_id', '=', contactId)
    .where('tickets.status', 'in', ['open', 'pending'])
    .orderBy('tickets.id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/**
 * Records one inbound message. Throws `validation_failed` when the sender has
 * no phone number; adapters check `senderPhone` first to skip such messages.
 */
export async function receiveChannelMessage(
  trx: Executor,
  clock: Clock,
  message: InboundChannelMessage,
): Promise<ReceivedChannelMessage> {
  const { channel } = message;
  const organizationId = channel.organization_id;
  const phone = senderPhone(message.from) ?? message.from;
  const requester = { phone, name: message.fromName };
  const contact = await findOrCreateContact(trx, clock, organizationId, requester);
  // The no-op UPDATE locks the contact's row (PostgreSQL; SQLite holds the
  // write lock already): two messages from one person arriving together are
  // threaded one after the other, so they cannot open two tickets.
  await trx
    .updateTable('contacts')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', contact.id)
    .execute();

  let ticketId = await openTicketOn(trx, channel, contact.id);
  const ticketCreated = ticketId === undefined;
  if (ticketId === undefined) {
    const ticket = await createTicket(trx, clock, organizationId, {
      subject: subjectOf(message, phone),
      requester,
      channel: message.medium,
    });
    ticketId = ticket.id;
    await trx
      .insertInto('channel_tickets')
      .values({
        ticket_id: ticketId,
        channel_id: channel.id,
        organization_id: organizationId,
        contact_id: contact.id,
        created_at: clock.now(),
      })
      .execute();
  }

  const created = await createMessage(
    trx,
    clock,
    organizationId,
    ticketId,
    {
      body: message.body,
      direction: 'inbound',
      channel: message.medium,
      contactId: contact.id,
      providerMessageId: message.providerMessageId,
      attachments: message.attachments,
    },
    null,
  );
  return { ticketId, messageId: created.id, ticketCreated };
}
