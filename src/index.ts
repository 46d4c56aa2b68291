/**
 * The `hookdesk` package entry: the server's signing and check of
 * `X-Webhook-Signature`. This package is private and brings the whole
 * server, so a receiver installs `@hookdesk/verify` (packages/verify)
 * instead, which checks both signatures with `node:crypto` only
 * (docs/webhooks.md, "Verifying signatures"). The signing stays here, in
 * src/delivery/signature.ts: test/verify-package.test.ts holds the package
 * to what it signs and to this `verifyWebhookSignature`.
 */

/**
 * `verifyWebhookSignature(secret, rawBody, header)`: true when `header` (the
 * `X-Webhook-Signature` header) holds `sha256=<hex HMAC-SHA256 of rawBody
 * keyed by secret>`. During a secret rotation it holds two values separated
 * by a comma, and one match is enough; each comparison is constant time, and
 * a missing header or one with any malformed value is false.
 *
 * `signPayload(secret, body)`: the `X-Webhook-Signature` value Hookdesk sends
 * for `body` (useful in receivers' tests).
 */
export { signPayload, verifyWebhookSignature } from './delivery/signature.js';
