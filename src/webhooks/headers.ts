/**
 * Custom webhook headers: what a webhook may add to each delivery request.
 * Names are RFC 7230 tokens; values are single-line text. The headers the
 * delivery engine sets itself, and hop-by-hop or framing headers, are refused.
 * Values are write-only: the API shows each header's name with a mask.
 */
import { DELIVERY_HEADERS } from '../delivery/sender.js';
import { Problems } from '../errors.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_NAME = 100;
/** Control characters other than horizontal tab, including CR, LF and NUL. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/**
 * Characters above U+00FF (UTF-16 code units, so astral characters and lone
 * surrogates too). A header value is bytes (RFC 9110 field-value:
 * tab, visible ASCII, space, obs-text 0x80-0xFF); undici refuses a request
 * whose header holds anything wider ("invalid … header"), so a webhook
 * accepted with such a value (`€`, an emoji, U+2028) could never deliver:
 * every attempt would fail until the webhook is disabled.
 */
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

/** Lower-case names a webhook may not set. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  // Set on every delivery, the Standard Webhooks ones (webhook-id,
  // webhook-timestamp, webhook-signature) included: a receiver's verifier
  // reads them, so a second value would break its check.
  ...DELIVERY_HEADERS.map((h) => h.name.toLowerCase()),
  // Hop-by-hop and framing.
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** Adds a problem per bad name or value, at `headers.<name>`. */
export function checkHeaders(
  headers: Record<string, unknown>,
  problems: Pick<Problems, 'add'>,
): void {
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const field = `headers.${name}`;
    const lower = name.toLowerCase();
    if (name.length > MAX_NAME) {
      problems.add(field, `name must be at most ${MAX_NAME} characters long`);
    } else if (!TOKEN.test(name)) {
      problems.add(field, 'is not a valid header name');
    } else if (RESERVED_HEADERS.has(lower)) {
      problems.add(field, 'is set by Hookdesk or is hop-by-hop, and may not be set');
    } else if (seen.has(lower)) {
      problems.add(field, 'is a duplicate (header names are case-insensitive)');
    } else if (typeof value !== 'string') {
      problems.add(field, 'must be a string');
    } else if (CONTROL.test(value)) {
      problems.add(field, 'must not contain control characters (CR, LF, NUL, …)');
    } else if (BEYOND_LATIN1.test(value)) {
      problems.add(
        field,
        'must only contain characters up to U+00FF (HTTP header values are bytes)',
      );
    }
    seen.add(lower);
  }
}

/**
 * What the API shows in place of every custom header value. Values are
 * secrets as much as the signing secret is (typically the receiver's
 * `Authorization`), so they are write-only; a fixed mask says nothing about
 * a value, not even its length.
 */
export const MASKED_HEADER_VALUE = '********';

/** The headers as the API shows them: every name, no value. */
export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((name) => [name, MASKED_HEADER_VALUE]));
}

/**
 * The headers to store when `given` replaces `stored`. A value equal to the
 * mask keeps the stored value of the header of that name (compared
 * case-insensitively, as header names are), so a client can send back the
 * headers it read and change only some; a mask with no stored value to keep
 * is a 400 naming the header.
 */
export function unmaskHeaders(
  given: Record<string, string>,
  stored: Record<string, string>,
): Record<string, string> {
  const byName = new Map(
    Object.entries(stored).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const problems = new Problems();
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    const kept = value === MASKED_HEADER_VALUE ? byName.get(name.toLowerCase()) : value;
    if (kept === undefined) {
      problems.add(
        `headers.${name}`,
        `is the mask ${MASKED_HEADER_VALUE}, which keeps a stored value, but this webhook has no such header: send the value itself`,
      );
    } else {
      out[name] = kept;
    }
  }
  problems.throwIfAny();
  return out;
}
