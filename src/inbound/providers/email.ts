/**
 * Email providers' inbound posts as `InboundEmail` for receiveInboundEmail
 * (src/inbound/email/receive.ts), which threads and stores them. MIME (raw
 * messages, and header blocks on their own) is read with mailparser, so
 * encoded words, folded headers and `References` lists are decoded the way
 * mail clients do.
 */
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { InboundAttachment, InboundEmail } from '../email/receive.js';
import { AppError } from '../../errors.js';
import { sha256Hex } from './channel.js';

const PARSE_OPTIONS = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true };

/** PostgreSQL text cannot hold NUL, and mail is arbitrary bytes: NULs are dropped. */
export function clean(value: string): string;
export function clean(value: string | undefined): string | undefined;
export function clean(value: string | undefined): string | undefined {
  return value?.replaceAll('\u0000', '');
}

function firstAddress(field: AddressObject | AddressObject[] | undefined) {
  const objects = Array.isArray(field) ? field : field ? [field] : [];
  for (const object of objects) {
    for (const entry of object.value) {
      if (entry.address) return { address: entry.address, name: entry.name || undefined };
    }
  }
  return undefined;
}

function references(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).map((id) => clean(id));
}

async function parse(source: string | Buffer): Promise<ParsedMail> {
  try {
    return await simpleParser(source, PARSE_OPTIONS);
  } catch (error) {
    throw new AppError('validation_failed', 'The MIME message cannot be parsed.', [], {
      cause: error,
    });
  }
}

/** What a header block says: SendGrid's `headers` field, or the top of a raw message. */
export interface HeaderFacts {
  from: { address: string; name: string | undefined } | undefined;
  to: string | undefined;
  subject: string | undefined;
  messageId: string | undefined;
  inReplyTo: string | undefined;
  references: string[] | undefined;
}

function facts(mail: ParsedMail): HeaderFacts {
  const from = firstAddress(mail.from);
  return {
    from: from && { address: clean(from.address), name: clean(from.name) },
    to: clean(firstAddress(mail.to)?.address),
    subject: clean(mail.subject),
    messageId: clean(mail.messageId),
    inReplyTo: clean(mail.inReplyTo),
    references: references(mail.references),
  };
}

/** Parses a bare header block (no body) with the same rules as whole messages. */
export async function parseHeaderBlock(headers: string): Promise<HeaderFacts> {
  return facts(await parse(`${headers.replace(/\s+$/, '')}\r\n\r\n`));
}

/** A whole raw MIME message (SendGrid's raw mode `email` field, Mailgun's `body-mime`). */
export async function mimeToEmail(
  organizationId: string,
  source: string | Buffer,
  fallbackTo?: string,
): Promise<InboundEmail> {
  const mail = await parse(source);
  const header = facts(mail);
  const attachments: InboundAttachment[] = mail.attachments.map((a, n) => ({
    filename: clean(a.filename) ?? `attachment-${n + 1}`,
    contentType: a.contentType || null,
    size: a.size,
    url: null,
  }));
  return {
    organizationId,
    from: requiredFrom(header),
    fromName: header.from?.name,
    to: header.to ?? fallbackTo ?? '',
    subject: header.subject,
    text: clean(mail.text) ?? '',
    html: typeof mail.html === 'string' ? clean(mail.html) : undefined,
    messageId: header.messageId,
    inReplyTo: header.inReplyTo,
    references: header.references,
    attachments,
  };
}

export function requiredFrom(header: Pick<HeaderFacts, 'from'>): string {
  if (!header.from) throw new AppError('validation_failed', 'The email has no sender address.');
  return header.from.address;
}

/**
 * The provider-event key of an inbound email: its Message-ID, or, for mail
 * without one, a hash of what the provider posted (a retry posts the same).
 */
export function inboundKey(email: InboundEmail, posted: string): string {
  return email.messageId ? `inbound:${email.messageId}` : `inbound-sha256:${sha256Hex(posted)}`;
}
