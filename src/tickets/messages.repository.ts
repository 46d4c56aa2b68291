/** Message rows of a ticket and their wire shape. */
import { iso } from '../clock.js';
import type { Executor, MessagesTable } from '../db/schema.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';
import type { MessageDto } from './tickets.schemas.js';

export function toMessageDto(row: MessagesTable): MessageDto {
  return {
    id: row.id,
    ticketId: row.ticket_id,
    direction: row.direction,
    channel: row.channel,
    body: row.body,
    bodyFull: row.body_full ?? row.body,
    bodyHtml: row.body_html,
    authorId: row.author_id,
    contactId: row.contact_id,
    emailMessageId: row.email_message_id,
    providerMessageId: row.provider_message_id,
    deliveryStatus: row.delivery_status,
    deliveryError: row.delivery_error,
    attachments: JSON.parse(row.attachments) as MessageDto['attachments'],
    createdAt: iso(row.created_at),
  };
}

export async function insertMessage(trx: Executor, row: MessagesTable): Promise<void> {
  await trx.insertInto('messages').values(row).execute();
}

/** Oldest first: a conversation reads top to bottom. Ids are UUIDv7, so id order is time order. */
export async function listMessages(
  db: Executor,
  organizationId: string,
  ticketId: string,
  page: PageRequest,
): Promise<MessagesTable[]> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('ticket_id', '=', ticketId)
    .$call(keysetPage(page, { order: 'asc' }))
    .execute();
}
