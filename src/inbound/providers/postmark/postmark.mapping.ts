/**
 * Postmark's inbound JSON as `InboundEmail`, and its Delivery / Bounce /
 * Open / Click webhooks as delivery statuses. Postmark's key casing varies
 * between record types and over time, so keys are matched case-insensitively.
 */
import type { InboundAttachment, InboundEmail } from '../../email/receive.js';
import type { MessageDeliveryStatus } from '../../email/status.js';
import { AppError } from '../../../errors.js';
import { clean, parseHeaderBlock, requiredFrom } from '../email.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

/** `obj[name]` with the key matched case-insensitively (`RecordType`, `recordType`, `Recordtype`). */
export function field(obj: Json, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

export function asObject(body: unknown): Json {
  if (!isObject(body)) throw new AppError('validation_failed', 'The body is a JSON object.');
  return body;
}

/** `Headers: [{Name, Value}]` as a header block, one line each, for mailparser. */
function headerBlock(headers: unknown): string {
  return list(headers)
    .filter(isObject)
    .map((h) => [str(field(h, 'Name')), str(field(h, 'Value'))] as const)
    .filter((p): p is readonly [string, string] => !!p[0] && p[1] !== undefined)
    .filter(([name]) => /^[!-9;-~]+$/.test(name))
    .map(([name, value]) => `${name}: ${value.replace(/[\r\n]+/g, ' ')}`)
    .join('\r\n');
}

export async function postmarkInboundEmail(
  organizationId: string,
  body: Json,
): Promise<InboundEmail> {
  const header = await parseHeaderBlock(headerBlock(field(body, 'Headers')));
  const fromFull = field(body, 'FromFull');
  const fromAddress = isObject(fromFull) ? str(field(fromFull, 'Email')) : undefined;
  const fromName = isObject(fromFull) ? str(field(fromFull, 'Name')) : undefined;
  const from = fromAddress ?? str(field(body, 'From'));
  const toFull = list(field(body, 'ToFull')).find(isObject);
  const attachments: InboundAttachment[] = list(field(body, 'Attachments'))
    .filter(isObject)
    .map((a, n) => {
      const size = Number(field(a, 'ContentLength'));
      // The base64 `Content` is not kept: attachments are metadata only.
      return {
        filename: clean(str(field(a, 'Name'))) ?? `attachment-${n + 1}`,
        contentType: str(field(a, 'ContentType')) ?? null,
        size: Number.isInteger(size) && size >= 0 ? size : null,
        url: null,
      };
    });
  return {
    organizationId,
    from: requiredFrom({ from: from ? { address: clean(from), name: undefined } : undefined }),
    fromName: clean(fromName),
    to:
      clean(
        (toFull ? str(field(toFull, 'Email')) : undefined) ??
          str(field(body, 'OriginalRecipient')) ??
          str(field(body, 'To')),
      ) ?? '',
    subject: clean(str(field(body, 'Subject'))),
    text: clean(str(field(body, 'TextBody'))) ?? '',
    html: clean(str(field(body, 'HtmlBody'))),
    messageId: header.messageId,
    inReplyTo: header.inReplyTo,
    references: header.references,
    attachments,
  };
}

/** Bounce types that say the address itself is bad; see postmarkStatus. */
const HARD_BOUNCES = new Set(['hardbounce', 'bademailaddress', 'manuallydeactivated']);
/** Bounce records that are not a failure of the message (auto-replies, delays, subscriptions). */
const NOT_FAILURES = new Set([
  'transient',
  'autoresponder',
  'subscribe',
  'unsubscribe',
  'addresschange',
  'challengeverification',
  'openrelaytest',
]);

export interface PostmarkEvent {
  status: MessageDeliveryStatus | null;
  messageId: string | undefined;
  at: number | undefined;
  errorCode: string | undefined;
  errorMessage: string | undefined;
}

/**
 * Delivery → delivered; Open and Click → opened; Bounce → bounced for hard
 * bounces (the address is bad), nothing for delays and auto-replies, failed
 * for the rest (soft bounces, blocks, DNS errors). SpamComplaint and
 * SubscriptionChange are not statuses.
 */
export function postmarkEvent(body: Json): PostmarkEvent {
  const recordType = str(field(body, 'RecordType'))?.toLowerCase();
  const bounceType = str(field(body, 'Type'))?.toLowerCase() ?? '';
  let status: MessageDeliveryStatus | null = null;
  if (recordType === 'delivery') status = 'delivered';
  else if (recordType === 'open' || recordType === 'click') status = 'opened';
  else if (recordType === 'bounce' && !NOT_FAILURES.has(bounceType)) {
    status = HARD_BOUNCES.has(bounceType) ? 'bounced' : 'failed';
  }
  const when =
    str(field(body, 'DeliveredAt')) ??
    str(field(body, 'BouncedAt')) ??
    str(field(body, 'ReceivedAt'));
  const at = when ? Date.parse(when) : NaN;
  return {
    status,
    messageId: str(field(body, 'MessageID')),
    at: Number.isFinite(at) ? at : undefined,
    errorCode: recordType === 'bounce' ? str(field(body, 'Type')) : undefined,
    errorMessage:
      recordType === 'bounce'
        ? (str(field(body, 'Description')) ?? str(field(body, 'Details')))
        : undefined,
  };
}
