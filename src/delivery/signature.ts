/**
 * Webhook signatures (docs/webhooks.md, "Verifying signatures"), two headers
 * from the same secrets, newest first while a rotated secret's overlap lasts:
 *
 * - `X-Webhook-Signature: sha256=<hex>[, sha256=<hex>]`, the HMAC-SHA256 of
 *   the raw body keyed by the secret's UTF-8 bytes;
 * - `webhook-signature: v1,<base64>[ v1,<base64>]` (Standard Webhooks), the
 *   HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed by
 *   `standardKey(secret)`.
 *
 * `verifyWebhookSignature` is exported from the package for receivers.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { standardKey } from './signing-secrets.js';

/** One `X-Webhook-Signature` value: `sha256=<hex>`. */
export function signPayload(secret: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** `X-Webhook-Signature` for these secrets (newest first), values separated by ", ". */
export function signatureHeader(secrets: readonly string[], body: string): string {
  let header = signPayload(secrets[0]!, body);
  for (let i = 1; i < secrets.length; i++) header += ', ' + signPayload(secrets[i]!, body);
  return header;
}

/** One `webhook-signature` value: `v1,<base64>`. */
export function standardSignature(
  secret: string,
  webhookId: string,
  timestamp: string,
  body: string,
): string {
  // Fed in pieces: the same MAC as over the joined string, without copying the body.
  return (
    'v1,' +
    createHmac('sha256', standardKey(secret))
      .update(webhookId)
      .update('.')
      .update(timestamp)
      .update('.')
      .update(body)
      .digest('base64')
  );
}

/** `webhook-signature` for these secrets (newest first), values separated by a space. */
export function standardSignatureHeader(
  secrets: readonly string[],
  webhookId: string,
  timestamp: string,
  body: string,
): string {
  let header = standardSignature(secrets[0]!, webhookId, timestamp, body);
  for (let i = 1; i < secrets.length; i++)
    header += ' ' + standardSignature(secrets[i]!, webhookId, timestamp, body);
  return header;
}

const VALUE = /^sha256=([0-9a-f]{64})$/i;

/**
 * True when `header` (`X-Webhook-Signature`) holds a signature of `rawBody`
 * under `secret`. The header may hold several values separated by commas
 * (`sha256=<a>, sha256=<b>`, sent while a rotated secret's overlap lasts):
 * one match is enough. Each comparison is constant time, and every value is
 * compared, matched or not. A missing header, an empty value or any value
 * not of the form `sha256=<64 hex>` makes the whole header false. Pass the
 * raw bytes as received, never re-serialized JSON.
 */
export function verifyWebhookSignature(
  secret: string,
  rawBody: string | Buffer,
  header: string | undefined | null,
): boolean {
  if (typeof header !== 'string') return false;
  const given: Buffer[] = [];
  for (const value of header.split(',')) {
    const hex = VALUE.exec(value.trim())?.[1];
    if (!hex) return false;
    given.push(Buffer.from(hex, 'hex'));
  }
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  let matched = false;
  for (const g of given) if (timingSafeEqual(g, expected)) matched = true;
  return matched;
}
