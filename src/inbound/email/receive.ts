/**
 * Receiving one email (docs/providers.md, "Inbound email"), whatever carried
 * it: the JSON endpoint, or a provider adapter (SendGrid Inbound Parse,
 * Mailgun, Postmark) that has already verified its request. In the caller's
 * transaction:
 *
 * 1. The same Message-ID seen before in the organization answers the
 *    message already stored, and writes nothing.
 * 2. `inReplyTo`, then `references` from the newest, are looked up among
 *    the Message-IDs of the organization's messages (ours and received);
 *    the first hit names the ticket.
 * 3. Unmatched mail opens a ticket on the email channel with the sender as
 *    requester, or is dropped, as the organization's setting says.
 * 4. The message is stored with the reply text as `body` (quotes and
 *    signature stripped) and the whole text as `body_full`, raising
 *    `message.created` (and `ticket.created`) through the usual services.
 */
import type { Clock } from '../../clock.js';
import { findOrCreateContact } from '../../contacts/contacts.repository.js';
import type { Executor } from '../../db/schema.js';
import { invalid, notFound } from '../../errors.js';
import { findOrganizationSettings } from '../../orgs/settings.js';
import { createMessage } from '../../tickets/messages.service.js';
import { createTicket } from '../../tickets/tickets.service.js';
import { bareMessageId, bracketed, parseReferences } from './message-ids.js';
import { htmlToText, isEmailAddress, parseAddress, stripReply } from './message-text.js';

export interface InboundAttachment {
  filename: string;
  contentType: string | null;
  size: number | null;
  url: string | null;
}

export interface InboundEmail {
  organizationId: string;
  /** The sender's address; `Name <address>` is accepted too. */
  from: string;
  fromName?: string;
  to: string;
  subject?: string;
  /** Plain-text body; may be empty when `html` is given. */
  text: string;
  html?: string;
  /** Message-IDs may come with or without angle brackets. */
  messageId?: string;
  inReplyTo?: string;
  /** Oldest first, as in the `References` header. */
  references?: string[];
  /** Metadata only; the files stay where `url` points. */
  attachments: InboundAttachment[];
}

export interface InboundEmailResult {
  /** Null when the mail matched no ticket and the organization discards such mail. */
  ticketId: string | null;
  messageId: string | null;
}

/** Ids compared per email, at most: a `References` chain longer than this keeps its newest ids. */
const MAX_CANDIDATES = 100;
const MAX_SUBJECT_LENGTH = 500;
const MAX_DESCRIPTION_LENGTH = 100_000;

function sender(email: InboundEmail): { address: string; name: string | undefined } {
  const parsed = parseAddress(email.from);
  if (!isEmailAddress(parsed.address)) throw invalid('from', 'must be an email address');
  const name = (email.fromName ?? parsed.name)?.trim().slice(0, 200);
  return { address: parsed.address, name: name === '' ? undefined : name };
}

/** Message-IDs that may name the ticket, most telling first. */
function candidates(email: InboundEmail): string[] {
  const ids = parseReferences(email.inReplyTo ?? null);
  for (const id of parseReferences(email.references ?? null).reverse()) {
    if (!ids.includes(id)) ids.push(id);
  }
  return ids.slice(0, MAX_CANDIDATES);
}

async function findByMessageId(trx: Executor, organizationId: string, emailMessageId: string) {
  return trx
    .selectFrom('messages')
    .select(['id', 'ticket_id'])
    .where('organization_id', '=', organizationId)
    .where('email_message_id', '=', emailMessageId)
    .executeTakeFirst();
}

async function matchTicket(
  trx: Executor,
  organizationId: string,
  ids: string[],
): Promise<string | null> {
  if (ids.length === 0) return null;
  const rows = await trx
    .selectFrom('messages')
    .select(['email_message_id', 'ticket_id'])
    .where('organization_id', '=', organizationId)
    .where('email_message_id', 'in', ids)
    .execute();
  for (const id of ids) {
    const hit = rows.find((r) => r.email_message_id === id);
    if (hit) return hit.ticket_id;
  }
  return null;
}

/**
 * Holds the organization row until commit (the no-op UPDATE is the portable
 * FOR UPDATE; SQLite already holds its single write lock), so two deliveries
 * of one email cannot both pass the duplicate check. Contacts are written
 * before this lock, in the same order as ticket creation takes them.
 */
async function lockOrganization(trx: Executor, organizationId: string): Promise<void> {
  await trx
    .updateTable('organizations')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', organizationId)
    .execute();
}

/** PostgreSQL text cannot hold NUL; adapters parsing MIME or forms may pass one through. */
function withoutNul(email: InboundEmail): InboundEmail {
  const clean = <T extends string | undefined>(v: T): T => v?.replaceAll('\u0000', '') as T;
  return {
    ...email,
    from: clean(email.from),
    fromName: clean(email.fromName),
    subject: clean(email.subject),
    text: clean(email.text),
    html: clean(email.html),
    attachments: email.attachments.map((a) => ({
      filename: clean(a.filename),
      contentType: a.contentType === null ? null : clean(a.contentType),
      size: a.size,
      url: a.url === null ? null : clean(a.url),
    })),
  };
}

export async function receiveInboundEmail(
  trx: Executor,
  clock: Clock,
  received: InboundEmail,
): Promise<InboundEmailResult> {
  const email = withoutNul(received);
  const org = email.organizationId;
  const from = sender(email);
  const emailMessageId = bracketed(email.messageId);
  const seen = async () => (emailMessageId ? findByMessageId(trx, org, emailMessageId) : undefined);

  let duplicate = await seen();
  if (duplicate) return { ticketId: duplicate.ticket_id, messageId: duplicate.id };
  const settings = await findOrganizationSettings(trx, org);
  if (!settings) throw notFound('Organization');
  let ticketId = await matchTicket(trx, org, candidates(email));
  if (ticketId === null && settings.inboundUnmatched === 'discard') {
    return { ticketId: null, messageId: null };
  }

  const contact = await findOrCreateContact(trx, clock, org, {
    email: from.address,
    ...(from.name !== undefined ? { name: from.name } : {}),
  });
  if (emailMessageId) {
    await lockOrganization(trx, org);
    duplicate = await seen();
    if (duplicate) return { ticketId: duplicate.ticket_id, messageId: duplicate.id };
  }

  const full = email.text.trim() === '' && email.html ? htmlToText(email.html) : email.text;
  const body = stripReply(full);
  if (ticketId === null) {
    const subject = (email.subject ?? '').trim().slice(0, MAX_SUBJECT_LENGTH);
    const ticket = await createTicket(trx, clock, org, {
      subject: subject === '' ? '(no subject)' : subject,
      ...(body !== '' ? { description: body.slice(0, MAX_DESCRIPTION_LENGTH) } : {}),
      requester: { email: from.address, ...(from.name !== undefined ? { name: from.name } : {}) },
      channel: 'email',
    });
    ticketId = ticket.id;
  }
  const message = await createMessage(
    trx,
    clock,
    org,
    ticketId,
    {
      body,
      bodyFull: full !== body ? full : undefined,
      bodyHtml: email.html,
      direction: 'inbound',
      channel: 'email',
      contactId: contact.id,
      emailMessageId: emailMessageId ?? undefined,
      providerMessageId: bareMessageId(email.messageId) ?? undefined,
      attachments: email.attachments.map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        size: a.size,
        url: a.url,
      })),
    },
    null,
  );
  return { ticketId, messageId: message.id };
}
