/**
 * Webhook signatures: `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the
 * raw body keyed by the secret>`. `verifyWebhookSignature` is exported from
 * the package for receivers.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function signPayload(secret: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * True when `header` is the signature of `rawBody` under `secret`. Compares in
 * constant time; any malformed header is simply false. Pass the raw bytes as
 * received, never re-serialized JSON.
 */
export function verifyWebhookSignature(
  secret: string,
  rawBody: string | Buffer,
  header: string | undefined | null,
): boolean {
  if (typeof header !== 'string') return false;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!match?.[1]) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(match[1], 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
