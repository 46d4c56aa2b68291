/**
 * Webhook signing secrets (docs/webhooks.md, "Verifying signatures"). A secret
 * is any string of 16–500 characters; one of the form `whsec_<base64>` is a
 * Standard Webhooks secret, whose key for `webhook-signature` is the decoded
 * bytes. `X-Webhook-Signature` is always keyed by the secret's UTF-8 bytes,
 * as it was before Standard Webhooks were supported, so existing receivers
 * keep verifying.
 *
 * After a rotation the previous secret signs too until it expires. Which
 * secrets sign an attempt, and with which key, is decided in
 * src/delivery/signing-secrets.ts: the delivery engine signs every attempt
 * and may not import a feature (eslint.config.js), so the rules live there
 * and are re-exported here for the webhooks API.
 */
import { randomBytes } from 'node:crypto';
import { WHSEC_PREFIX } from '../delivery/signing-secrets.js';

export {
  WHSEC_PREFIX,
  signingSecrets,
  standardKey,
  whsecProblem,
  type SecretColumns,
} from '../delivery/signing-secrets.js';

/** A new secret: `whsec_` and base64 of 32 random bytes. */
export function generateSecret(): string {
  return WHSEC_PREFIX + randomBytes(32).toString('base64');
}
