/**
 * Mailgun's signature, its inbound route posts as `InboundEmail`, and its
 * events as Hookdesk delivery statuses.
 */
import { createHmac } from 'node:crypto';
import type { InboundAttachment, InboundEmail } from '../../email/receive.js';
import type { MessageDeliveryStatus } from '../../email/status.js';
import { safeEqual } from '../channel.js';
import { clean, mimeToEmail, parseHeaderBlock, requiredFrom } from '../email.js';
import type { FilePart } from '../multipart.js';
import { one, type FormParams } from '../parsers.js';

/** `signature` is hex(HMAC-SHA256(signing key, timestamp + token)); compared in constant time. */
export function verifyMailgunSignature(
  signingKey: string,
  timestamp: string,
  token: string,
  signature: string,
): boolean {
  const expected = createHmac('sha256', signingKey)
    .update(timestamp + token)
    .digest('hex');
  return safeEqual(signature.toLowerCase(), expected);
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

/**
 * `message-headers` is a JSON list of [name, value] pairs. Rebuilt as a
 * header block (one line each) so mailparser decodes it like a message's own.
 */
function headerBlock(json: string | undefined): string {
  try {
    const pairs = JSON.parse(json ?? '[]') as unknown;
    if (!Array.isArray(pairs)) return '';
    return pairs
      .filter((p): p is [string, string] => Array.isArray(p) && p.length === 2)
      .filter(([name, value]) => typeof name === 'string' && typeof value === 'string')
      .filter(([name]) => /^[!-9;-~]+$/.test(name))
      .map(([name, value]) => `${name}: ${value.replace(/[\r\n]+/g, ' ')}`)
      .join('\r\n');
  } catch {
    return '';
  }
}

/** Files posted as `attachment-N` (multipart), or `attachments` JSON (store-and-notify posts). */
function attachmentsOf(fields: FormParams, files: FilePart[]): InboundAttachment[] {
  const listed: InboundAttachment[] = files.map((file) => ({
    filename: clean(file.filename) || file.field,
    contentType: file.contentType,
    size: file.size,
    url: null,
  }));
  try {
    const stored = JSON.parse(one(fields, 'attachments') ?? '[]') as unknown;
    for (const a of Array.isArray(stored) ? stored : []) {
      if (!isObject(a)) continue;
      listed.push({
        filename: clean(str(a.name)) ?? 'attachment',
        contentType: str(a['content-type']) ?? null,
        size: typeof a.size === 'number' ? a.size : null,
        url: str(a.url) ?? null,
      });
    }
  } catch {
    // Not JSON: no stored attachments to list.
  }
  return listed;
}

export async function mailgunInboundEmail(
  organizationId: string,
  fields: FormParams,
  files: FilePart[],
): Promise<InboundEmail> {
  const recipient = clean(one(fields, 'recipient'));
  const mime = one(fields, 'body-mime');
  if (mime !== undefined) return mimeToEmail(organizationId, mime, recipient);
  const header = await parseHeaderBlock(headerBlock(one(fields, 'message-headers')));
  const fromField = one(fields, 'from') ?? one(fields, 'sender');
  const from =
    header.from ??
    (fromField
      ? (await parseHeaderBlock(`From: ${fromField.replace(/[\r\n]+/g, ' ')}`)).from
      : undefined);
  return {
    organizationId,
    from: requiredFrom({ from }),
    fromName: from?.name,
    to: recipient ?? header.to ?? '',
    subject: header.subject ?? clean(one(fields, 'subject')),
    text: clean(one(fields, 'body-plain')) ?? '',
    html: clean(one(fields, 'body-html')),
    messageId: header.messageId ?? clean(one(fields, 'Message-Id')),
    inReplyTo: header.inReplyTo ?? clean(one(fields, 'In-Reply-To')),
    references: header.references,
    attachments: attachmentsOf(fields, files),
  };
}

export interface MailgunEvent {
  id: string | undefined;
  status: MessageDeliveryStatus | null;
  messageId: string | undefined;
  at: number | undefined;
  errorCode: string | undefined;
  errorMessage: string | undefined;
}

/**
 * Mailgun's events as statuses: accepted → queued, delivered → delivered,
 * opened and clicked → opened, rejected → failed. A `failed` event that is
 * permanent is `bounced` when the address bounced (reason `bounce` or
 * `suppress-bounce`), else `failed`; a temporary failure changes nothing
 * (Mailgun is still retrying). Complaints and unsubscribes are not statuses.
 */
function statusOf(data: Json): MessageDeliveryStatus | null {
  switch (data.event) {
    case 'accepted':
      return 'queued';
    case 'delivered':
      return 'delivered';
    case 'opened':
    case 'clicked':
      return 'opened';
    case 'rejected':
      return 'failed';
    case 'failed':
      if (data.severity !== 'permanent') return null;
      return data.reason === 'bounce' || data.reason === 'suppress-bounce' ? 'bounced' : 'failed';
    default:
      return null;
  }
}

export function readMailgunEvent(data: unknown): MailgunEvent {
  const d = isObject(data) ? data : {};
  const delivery = isObject(d['delivery-status']) ? d['delivery-status'] : {};
  const headers = isObject(d.message) && isObject(d.message.headers) ? d.message.headers : {};
  const seconds = Number(d.timestamp);
  return {
    id: str(d.id),
    status: statusOf(d),
    messageId: str(headers['message-id']),
    at: Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : undefined,
    errorCode: str(delivery.code),
    errorMessage: str(delivery.description) ?? str(delivery.message) ?? str(d.reason),
  };
}
