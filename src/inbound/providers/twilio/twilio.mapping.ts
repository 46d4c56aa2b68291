/** Twilio's form fields in Hookdesk's terms: message statuses and MMS / WhatsApp media. */
import type { MessageDeliveryStatus } from '../../email/status.js';
import type { MessageDto } from '../../../tickets/tickets.schemas.js';
import { one, type FormParams } from '../parsers.js';

/**
 * Twilio's message statuses onto Hookdesk's delivery statuses. `read` (a
 * WhatsApp read receipt) is the messaging `opened`. `canceled` (a scheduled
 * send called off) never reached the recipient, so it is `failed`.
 * `partially_delivered` is not all of it: `sent`. `receiving` and `received`
 * describe inbound messages and change nothing.
 */
const STATUSES: Readonly<Record<string, MessageDeliveryStatus>> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'sent',
  sent: 'sent',
  partially_delivered: 'sent',
  delivered: 'delivered',
  read: 'opened',
  undelivered: 'failed',
  failed: 'failed',
  canceled: 'failed',
};

/** The Hookdesk status of a Twilio `MessageStatus`, or null when it changes nothing. */
export function twilioStatus(status: string): MessageDeliveryStatus | null {
  return Object.hasOwn(STATUSES, status) ? STATUSES[status]! : null;
}

const MAX_MEDIA = 10;

/**
 * `MediaUrl{N}` / `MediaContentType{N}` (zero-based, `NumMedia` of them) as
 * attachment metadata. The URL is Twilio's; fetching it needs the account's
 * credentials, so Hookdesk records it and does not download.
 */
export function mediaAttachments(params: FormParams): MessageDto['attachments'] {
  const count = Math.min(Number(one(params, 'NumMedia') ?? '0') || 0, MAX_MEDIA);
  const attachments: MessageDto['attachments'] = [];
  for (let n = 0; n < count; n += 1) {
    const url = one(params, `MediaUrl${n}`);
    if (!url) continue;
    attachments.push({
      filename: url.split('/').pop() || `media-${n}`,
      contentType: one(params, `MediaContentType${n}`) || null,
      size: null,
      url,
    });
  }
  return attachments;
}
