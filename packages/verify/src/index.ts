/**
 * `@hookdesk/verify`: checks that a request really came from Hookdesk, with
 * `node:crypto` only. Hookdesk signs every delivery of a webhook that has a
 * secret twice (docs/webhooks.md in the Hookdesk repository, "Verifying
 * signatures"); checking one of the two is enough:
 *
 * - `webhook-signature` (Standard Webhooks): covers the delivery id and the
 *   attempt's start with the body, so a recorded request cannot be replayed
 *   later. `verifyStandardWebhook` checks it. Prefer this one.
 * - `X-Webhook-Signature`: covers the body alone. `verifyWebhookSignature`
 *   checks it.
 *
 * Both take the raw bytes as received, never re-serialized JSON, and several
 * secrets at once for a receiver that holds the old and the new secret while
 * a rotation's overlap lasts. Comparisons are constant time, and every value
 * is compared with every secret, matched or not.
 *
 * This package only verifies. Hookdesk's own signing code stays in the server
 * (src/delivery/signature.ts); the repository's tests check that this package
 * accepts what the server signs and agrees with the server's own check.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A secret, or several (any one of them may have signed). */
export type Secrets = string | readonly string[];

/** The raw request body: the exact bytes received, or the same bytes as a string. */
export type RawBody = string | Uint8Array;

/** A header's value as Node's `req.headers` holds it. */
export type HeaderValue = string | readonly string[] | undefined | null;

/**
 * Request headers: Node's `req.headers` (lower-case keys), any plain object
 * of headers (looked up in any letter case), or a fetch `Headers`.
 */
export type RequestHeaders =
  { get(name: string): string | null } | Readonly<Record<string, HeaderValue>>;

/** Options of `verifyStandardWebhook`. */
export interface StandardWebhookOptions {
  /**
   * How far `webhook-timestamp` may be from `now`, in either direction, in
   * seconds. (Default: 300, as the Standard Webhooks libraries.)
   */
  toleranceSeconds?: number;
  /** The receiver's time in epoch milliseconds. (Default: `Date.now()`.) */
  now?: number;
}

const SIGNATURE_VALUE = /^sha256=([0-9a-f]{64})$/i;
const STANDARD_VALUE = /^v1,([A-Za-z0-9+/]{43}=)$/;
const TIMESTAMP = /^\d{1,15}$/;
const WHSEC_PREFIX = 'whsec_';
const WHSEC_MIN_BYTES = 24;
const WHSEC_MAX_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * True when `header` (`X-Webhook-Signature`) holds a signature of `rawBody`
 * under one of `secrets`: `sha256=<hex HMAC-SHA256 of the body keyed by the
 * secret's UTF-8 bytes>`, whatever the secret's form (a `whsec_` secret is
 * used whole). The header holds several values separated by commas while a
 * rotated secret's overlap lasts; one match is enough. A missing header, an
 * empty value or any value not of the form `sha256=<64 hex>` makes the whole
 * header false, as does an empty list of secrets.
 *
 * @example
 * ```js
 * if (!verifyWebhookSignature(secret, rawBody, req.headers['x-webhook-signature'])) {
 *   res.writeHead(401).end(); // and ignore the request
 * }
 * ```
 */
export function verifyWebhookSignature(
  secrets: Secrets,
  rawBody: RawBody,
  header: HeaderValue,
): boolean {
  const text = headerText(header, ', ');
  if (text === null) return false;
  const given: Buffer[] = [];
  for (const value of text.split(',')) {
    const hex = SIGNATURE_VALUE.exec(value.trim())?.[1];
    if (!hex) return false;
    given.push(Buffer.from(hex, 'hex'));
  }
  const expected = secretList(secrets).map((secret) =>
    createHmac('sha256', secret).update(rawBody).digest(),
  );
  return anyEqual(given, expected);
}

/**
 * True when the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) sign `rawBody` under one of `secrets` and the
 * timestamp is within `toleranceSeconds` of `now`. `webhook-signature` holds
 * space-separated `v1,<base64>` values, one per signing secret, of the
 * HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{raw body}`; values of
 * another version are ignored, as the specification asks. The key is the
 * decoded bytes of a `whsec_` secret (`whsec_` and standard base64 of 24 to
 * 64 bytes), and the UTF-8 bytes of any other secret, exactly as Hookdesk
 * signs. After a true answer, deduplicate on `webhook-id`: a retry carries
 * the same id.
 *
 * @example
 * ```js
 * if (!verifyStandardWebhook(process.env.WEBHOOK_SECRET, rawBody, req.headers)) {
 *   res.writeHead(401).end(); // and ignore the request
 * }
 * ```
 */
export function verifyStandardWebhook(
  secrets: Secrets,
  rawBody: RawBody,
  headers: RequestHeaders,
  options: StandardWebhookOptions = {},
): boolean {
  const id = headerOf(headers, 'webhook-id');
  const timestamp = headerOf(headers, 'webhook-timestamp');
  const signature = headerOf(headers, 'webhook-signature');
  if (!id || !timestamp || !signature || !TIMESTAMP.test(timestamp)) return false;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) return false;

  const given: Buffer[] = [];
  for (const value of signature.split(' ')) {
    const base64 = STANDARD_VALUE.exec(value)?.[1];
    if (!base64) continue;
    const bytes = Buffer.from(base64, 'base64');
    // Node decodes leniently; only the canonical encoding counts as a value.
    if (bytes.toString('base64') === base64) given.push(bytes);
  }
  const expected = secretList(secrets).map((secret) =>
    createHmac('sha256', standardKey(secret))
      .update(`${id}.${timestamp}.`)
      .update(rawBody)
      .digest(),
  );
  return anyEqual(given, expected);
}

/**
 * The HMAC key of `webhook-signature`: the decoded bytes of a well-formed
 * `whsec_` secret, else the secret's UTF-8 bytes. A secret that starts with
 * `whsec_` without clean base64 of 24 to 64 bytes is a plain secret, as
 * Hookdesk treats it.
 */
function standardKey(secret: string): Buffer {
  if (secret.startsWith(WHSEC_PREFIX)) {
    const encoded = secret.slice(WHSEC_PREFIX.length);
    const bytes = Buffer.from(encoded, 'base64');
    // Node decodes leniently; a re-encoding that differs means it was not clean base64.
    const clean =
      BASE64.test(encoded) && encoded.length % 4 === 0 && bytes.toString('base64') === encoded;
    if (clean && bytes.length >= WHSEC_MIN_BYTES && bytes.length <= WHSEC_MAX_BYTES) return bytes;
  }
  return Buffer.from(secret, 'utf8');
}

/** Every pair compared, so the time taken says nothing about which one matched. */
function anyEqual(given: readonly Buffer[], expected: readonly Buffer[]): boolean {
  let matched = false;
  for (const g of given)
    for (const e of expected) if (g.length === e.length && timingSafeEqual(g, e)) matched = true;
  return matched;
}

function secretList(secrets: Secrets): readonly string[] {
  // Unset (an environment variable that is missing) or empty never verifies:
  // an empty key makes a MAC anyone can compute.
  const list: readonly unknown[] =
    typeof secrets === 'string' ? [secrets] : Array.isArray(secrets) ? secrets : [];
  return list.filter((secret): secret is string => typeof secret === 'string' && secret !== '');
}

/** One header's text; a repeated header (an array) is joined with `separator`. */
function headerText(value: HeaderValue, separator: string): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length > 0) return value.join(separator);
  return null;
}

function headerOf(headers: RequestHeaders, name: string): string | null {
  // `webhook-signature` separates its values with spaces, other headers with commas.
  const separator = name === 'webhook-signature' ? ' ' : ', ';
  if (typeof headers.get === 'function')
    return (headers as { get(name: string): string | null }).get(name);
  const record = headers as Readonly<Record<string, HeaderValue>>;
  if (Object.hasOwn(record, name)) return headerText(record[name], separator);
  for (const key of Object.keys(record))
    if (key.toLowerCase() === name) return headerText(record[key], separator);
  return null;
}
