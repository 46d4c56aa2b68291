/**
 * Checking a Standard Webhooks `webhook-signature` header, the receiving side
 * of `standardSignature` in ./signature.ts (docs/webhooks.md, "Verifying
 * signatures"). The MAC itself is computed there; this file only parses the
 * header and compares.
 */
import { timingSafeEqual } from 'node:crypto';
import { standardSignature } from './signature.js';

const V1_PREFIX = 'v1,';

/**
 * True when `header` (`webhook-signature`: `v1,<base64>` values separated by
 * spaces) holds a v1 signature of `{webhookId}.{timestamp}.{rawBody}` under
 * `secret` (a `whsec_` secret keys with its decoded bytes, any other with its
 * UTF-8 bytes). One matching value is enough, as during a secret rotation;
 * values of other versions are ignored, as the Standard Webhooks
 * specification asks, so a header without any v1 value is false. Every v1
 * value is compared in constant time. The timestamp's age is not checked: the
 * caller decides what tolerance it wants.
 *
 * `rawBody` must be the bytes as received. Hookdesk signs its body as UTF-8
 * text, so bytes that are not valid UTF-8 (which would not survive decoding
 * unchanged) cannot carry a valid signature and are false.
 */
export function verifyStandardSignature(
  secret: string,
  webhookId: string,
  timestamp: string,
  rawBody: string | Buffer,
  header: string | undefined | null,
): boolean {
  if (typeof header !== 'string') return false;
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  if (typeof rawBody !== 'string' && !Buffer.from(body, 'utf8').equals(rawBody)) return false;
  const expected = Buffer.from(
    standardSignature(secret, webhookId, timestamp, body).slice(V1_PREFIX.length),
    'base64',
  );
  let matched = false;
  for (const value of header.split(' ')) {
    if (!value.startsWith(V1_PREFIX)) continue;
    const encoded = value.slice(V1_PREFIX.length);
    const given = Buffer.from(encoded, 'base64');
    // Node decodes base64 leniently; only the canonical encoding counts as a value.
    if (given.toString('base64') !== encoded || given.length !== expected.length) continue;
    if (timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}
