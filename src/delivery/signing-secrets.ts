/**
 * Which secrets sign an attempt, and with which key (docs/webhooks.md,
 * "Verifying signatures"). A secret is any string of 16–500 characters; one
 * of the form `whsec_<base64>` is a Standard Webhooks secret, whose key for
 * `webhook-signature` is the decoded bytes. `X-Webhook-Signature` is always
 * keyed by the secret's UTF-8 bytes, as it was before Standard Webhooks were
 * supported, so existing receivers keep verifying.
 *
 * After a rotation the previous secret signs too until it expires. These
 * rules live in the delivery engine, which signs every attempt and may not
 * import a feature; src/webhooks/secrets.ts re-exports them for the API.
 */

export const WHSEC_PREFIX = 'whsec_';
const WHSEC_MIN_BYTES = 24;
const WHSEC_MAX_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * What is wrong with a secret that claims the `whsec_` form, or null. Any
 * other string is a plain secret (its length is the schema's business).
 */
export function whsecProblem(secret: string): string | null {
  if (!secret.startsWith(WHSEC_PREFIX)) return null;
  const encoded = secret.slice(WHSEC_PREFIX.length);
  const bytes = Buffer.from(encoded, 'base64');
  // Node decodes leniently; a re-encoding that differs means it was not clean base64.
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0 || bytes.toString('base64') !== encoded)
    return 'must be whsec_ followed by standard base64 (a secret starting with whsec_ is a Standard Webhooks secret)';
  if (bytes.length < WHSEC_MIN_BYTES || bytes.length > WHSEC_MAX_BYTES)
    return `must be whsec_ followed by base64 of ${WHSEC_MIN_BYTES} to ${WHSEC_MAX_BYTES} bytes (it decodes to ${bytes.length})`;
  return null;
}

/** The HMAC key of `webhook-signature`: decoded bytes of a `whsec_` secret, else its UTF-8 bytes. */
export function standardKey(secret: string): Buffer {
  if (secret.startsWith(WHSEC_PREFIX) && whsecProblem(secret) === null)
    return Buffer.from(secret.slice(WHSEC_PREFIX.length), 'base64');
  return Buffer.from(secret, 'utf8');
}

/** The columns that say which secrets sign. */
export interface SecretColumns {
  secret: string | null;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
}

/**
 * The secrets that sign an attempt starting at `now` (the injected clock's
 * time), newest first: the current one, and the previous one while its
 * overlap lasts (it stops at the expiry instant). Empty for an unsigned
 * webhook.
 */
export function signingSecrets(hook: SecretColumns, now: number): string[] {
  if (hook.secret === null) return [];
  const previousSigns =
    hook.previous_secret !== null &&
    hook.previous_secret_expires_at !== null &&
    now < hook.previous_secret_expires_at;
  return previousSigns ? [hook.secret, hook.previous_secret!] : [hook.secret];
}
