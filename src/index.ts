/**
 * The `hookdesk` package entry. For now it exports what a webhook receiver
 * needs to check that a request really came from Hookdesk.
 *
 * @example
 * ```ts
 * import { verifyWebhookSignature } from 'hookdesk';
 * // rawBody: the exact bytes received (a Buffer), never re-serialized JSON.
 * if (!verifyWebhookSignature(secret, rawBody, req.headers['x-webhook-signature'])) {
 *   // answer 401 and ignore the request
 * }
 * ```
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
