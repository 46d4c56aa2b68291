/**
 * SendGrid's signed Event Webhook: ECDSA P-256 over the timestamp header's
 * bytes followed by the raw body bytes, checked with node:crypto against the
 * channel's public key (base64 DER, SPKI), and SendGrid's events as
 * Hookdesk delivery statuses.
 */
import { createPublicKey, verify } from 'node:crypto';
import type { DeliveryStatusUpdate, MessageDeliveryStatus } from '../../email/status.js';

/** True when `signature` (base64 DER) signs `timestamp + body` under the channel's key. */
export function verifyEventSignature(
  publicKeyBase64: string,
  signatureBase64: string,
  timestamp: string,
  body: Buffer,
): boolean {
  try {
    const key = createPublicKey({
      key: Buffer.from(publicKeyBase64, 'base64'),
      format: 'der',
      type: 'spki',
    });
    const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), body]);
    return verify('sha256', signed, key, Buffer.from(signatureBase64, 'base64'));
  } catch {
    // A signature that is not DER at all makes verify throw: it does not verify.
    return false;
  }
}

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

/**
 * The Hookdesk status of one SendGrid event, or null when it says nothing
 * about delivery (spamreport, unsubscribe, group_*):
 * - processed, deferred → sent (accepted by SendGrid; deferred is still trying)
 * - delivered → delivered; open, click → opened (a click proves the open)
 * - bounce with `type: "bounce"` → bounced (hard: the address is bad)
 * - bounce with `type: "blocked"`, dropped → failed (this message did not
 *   arrive, but the address is not known bad)
 */
export function sendgridStatus(event: Json): MessageDeliveryStatus | null {
  switch (event.event) {
    case 'processed':
    case 'deferred':
      return 'sent';
    case 'delivered':
      return 'delivered';
    case 'open':
    case 'click':
      return 'opened';
    case 'bounce':
      return event.type === 'blocked' ? 'failed' : 'bounced';
    case 'dropped':
      return 'failed';
    default:
      return null;
  }
}

/**
 * Ids an event may be known by, best first: `sg_message_id` up to its first
 * `.` (the X-Message-Id Mail Send returned), then `smtp-id` (the Message-ID,
 * which is what Hookdesk stores for mail it sent over SMTP through SendGrid).
 */
export function candidateIds(event: Json): string[] {
  const ids: string[] = [];
  const sg = str(event.sg_message_id)?.split('.')[0];
  if (sg) ids.push(sg);
  const smtp = str(event['smtp-id']);
  if (smtp) ids.push(smtp);
  return ids;
}

/** The status update of one event, without its id (tried per candidate id). */
export function updateOf(
  event: Json,
  status: MessageDeliveryStatus,
  now: number,
): Omit<DeliveryStatusUpdate, 'providerMessageId'> {
  const seconds = Number(event.timestamp);
  return {
    status,
    errorCode: str(event.status),
    errorMessage: str(event.reason) ?? str(event.response),
    at: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : now,
  };
}

/** SendGrid's own event id, else the event's content (a retried batch repeats it byte for byte). */
export function eventKey(event: Json): string {
  const id = str(event.sg_event_id);
  return id ? `event:${id}` : `event-json:${JSON.stringify(event)}`;
}
