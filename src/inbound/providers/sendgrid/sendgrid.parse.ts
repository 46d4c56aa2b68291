/**
 * SendGrid Inbound Parse posts (always multipart/form-data) as an
 * `InboundEmail`. Raw mode sends the whole message in `email`; the default
 * mode sends parsed fields, with Message-ID, In-Reply-To and References only
 * inside the raw `headers` block, which is read as MIME headers.
 */
import type { InboundAttachment, InboundEmail } from '../../email/receive.js';
import { AppError } from '../../../errors.js';
import type { MultipartForm } from '../multipart.js';
import { one } from '../parsers.js';
import { clean, mimeToEmail, parseHeaderBlock, requiredFrom, type HeaderFacts } from '../email.js';

function envelopeTo(form: MultipartForm): string | undefined {
  try {
    const envelope = JSON.parse(one(form.fields, 'envelope') ?? '{}') as { to?: unknown };
    const recipients: unknown[] = Array.isArray(envelope.to) ? envelope.to : [envelope.to];
    const to = recipients[0];
    return typeof to === 'string' ? clean(to) : undefined;
  } catch {
    return undefined;
  }
}

/** `From` from the headers block, else the `from` field (`Name <address>`). */
async function sender(form: MultipartForm, header: HeaderFacts): Promise<HeaderFacts['from']> {
  if (header.from) return header.from;
  const field = one(form.fields, 'from');
  // One header line: line breaks in the field must not smuggle in others.
  return field
    ? (await parseHeaderBlock(`From: ${field.replace(/[\r\n]+/g, ' ')}`)).from
    : undefined;
}

export async function inboundParseEmail(
  organizationId: string,
  form: MultipartForm,
): Promise<InboundEmail> {
  const raw = one(form.fields, 'email');
  if (raw !== undefined) return mimeToEmail(organizationId, raw, envelopeTo(form));

  const headers = one(form.fields, 'headers');
  if (headers === undefined && one(form.fields, 'from') === undefined) {
    throw new AppError('validation_failed', 'An Inbound Parse post has `headers` or `email`.');
  }
  const header = await parseHeaderBlock(headers ?? '');
  const from = await sender(form, header);
  const attachments: InboundAttachment[] = form.files.map((file) => ({
    filename: clean(file.filename) || file.field,
    contentType: file.contentType,
    size: file.size,
    url: null,
  }));
  return {
    organizationId,
    from: requiredFrom({ from }),
    fromName: from?.name,
    to: envelopeTo(form) ?? header.to ?? clean(one(form.fields, 'to')) ?? '',
    subject: header.subject ?? clean(one(form.fields, 'subject')),
    text: clean(one(form.fields, 'text')) ?? '',
    html: clean(one(form.fields, 'html')),
    messageId: header.messageId,
    inReplyTo: header.inReplyTo,
    references: header.references,
    attachments,
  };
}
