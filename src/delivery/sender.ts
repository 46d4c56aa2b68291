/**
 * One delivery attempt over HTTPS (docs/webhooks.md, "The request"): the exact
 * headers (signed once per attempt, ./signature.ts), a whole-request timeout,
 * no redirects, and at most 4,096 bytes of the response body read (the rest
 * is not read: the stream is destroyed).
 *
 * What the receiver sent is kept as text that both databases store alike
 * (`storableText`): PostgreSQL refuses U+0000 in a text column, and an
 * attempt that cannot be written would be sent again at every lease.
 */
import { request, type Dispatcher } from 'undici';
import { VERSION } from '../version.js';
import { signatureHeader, standardSignatureHeader } from './signature.js';

export const RESPONSE_BODY_LIMIT = 4096;
const USER_AGENT = `Hookdesk/${VERSION}`;

export interface OutgoingRequest {
  url: string;
  deliveryId: string;
  eventType: string;
  body: string;
  /**
   * The secrets that sign this attempt, newest first (./signing-secrets.ts,
   * `signingSecrets`): two while a rotated secret's overlap lasts, none for an
   * unsigned webhook.
   */
  secrets: readonly string[];
  customHeaders: Record<string, string>;
}

export interface AttemptError {
  code: string;
  message: string;
}

export interface AttemptResult {
  success: boolean;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  responseBodyTruncated: boolean;
  error: AttemptError | null;
}

/**
 * Where a standard header's value comes from when it is not the same on every
 * request: the delivery's event type or id, the attempt's start (Unix
 * seconds), or one of the two signatures.
 */
export type HeaderSource =
  'event_type' | 'delivery_id' | 'attempt_start' | 'signature' | 'standard_signature';

/**
 * The headers Hookdesk sets on every delivery, in the order sent: its own,
 * then the three Standard Webhooks headers (`webhook-id` is the delivery id,
 * like `X-Webhook-Delivery`). A webhook's custom headers may not name any of
 * them (webhooks/headers.ts), and the console shows them from
 * `GET /api/meta`. The signatures are sent only when the webhook has a secret.
 */
export const DELIVERY_HEADERS = [
  { name: 'Content-Type', value: 'application/json' },
  { name: 'X-Webhook-Event', from: 'event_type' },
  { name: 'X-Webhook-Delivery', from: 'delivery_id' },
  { name: 'User-Agent', value: USER_AGENT },
  { name: 'X-Webhook-Signature', from: 'signature' },
  { name: 'webhook-id', from: 'delivery_id' },
  { name: 'webhook-timestamp', from: 'attempt_start' },
  { name: 'webhook-signature', from: 'standard_signature' },
] as const satisfies readonly (
  { name: string; value: string } | { name: string; from: HeaderSource }
)[];

/** The lower-case names, computed once rather than at every attempt. */
const SENT = DELIVERY_HEADERS.map((h) => ({ ...h, key: h.name.toLowerCase() }));
const SENT_KEYS: ReadonlySet<string> = new Set(SENT.map((h) => h.key));

function headerValue(from: HeaderSource, req: OutgoingRequest, timestamp: string): string | null {
  switch (from) {
    case 'event_type':
      return req.eventType;
    case 'delivery_id':
      return req.deliveryId;
    case 'attempt_start':
      return timestamp;
    case 'signature':
      return req.secrets.length === 0 ? null : signatureHeader(req.secrets, req.body);
    case 'standard_signature':
      return req.secrets.length === 0
        ? null
        : standardSignatureHeader(req.secrets, req.deliveryId, timestamp, req.body);
  }
}

/**
 * The request's headers for an attempt starting at `startedAt` (epoch ms,
 * the attempt's recorded start): `webhook-timestamp` is that instant in
 * whole Unix seconds, and both signatures are computed here, once.
 */
export function buildHeaders(req: OutgoingRequest, startedAt: number): Record<string, string> {
  const timestamp = String(Math.floor(startedAt / 1000));
  // Custom headers first; the standard ones can never be overridden. Validation
  // refuses their names; this is the second line, also for a webhook stored
  // before a name was reserved (a `Webhook-Id` of any case would otherwise go
  // out beside ours).
  const headers: Record<string, string> = {};
  for (const name in req.customHeaders)
    if (!SENT_KEYS.has(name.toLowerCase())) headers[name] = req.customHeaders[name]!;
  for (const header of SENT) {
    const value = 'value' in header ? header.value : headerValue(header.from, req, timestamp);
    if (value !== null) headers[header.key] = value;
  }
  return headers;
}

export interface SendOptions {
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** Wall clock for start time and duration; the injected clock is for scheduling. */
  now?: () => number;
}

export async function sendAttempt(req: OutgoingRequest, opts: SendOptions): Promise<AttemptResult> {
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const started = performance.now();
  // One timer per attempt, cleared as soon as the attempt ends: AbortSignal.timeout()
  // cannot be cleared, so every attempt would leave a timer behind that fires
  // (and builds a DOMException) `timeoutMs` later.
  const controller = new AbortController();
  const { signal } = controller;
  const timer = setTimeout(
    () =>
      controller.abort(
        new DOMException(`No complete response within ${opts.timeoutMs} ms.`, 'TimeoutError'),
      ),
    opts.timeoutMs,
  );
  const finish = (partial: Omit<AttemptResult, 'startedAt' | 'durationMs'>): AttemptResult => ({
    ...partial,
    startedAt,
    durationMs: Math.max(0, Math.round(performance.now() - started)),
  });
  try {
    const res = await request(req.url, {
      method: 'POST',
      headers: buildHeaders(req, startedAt),
      body: req.body,
      dispatcher: opts.dispatcher,
      // One precise deadline for the whole request (connect, TLS, headers, body);
      // undici's own coarse timers are left at their generous defaults.
      signal,
    });
    const { body, truncated } = await readCapped(res.body, RESPONSE_BODY_LIMIT);
    const statusCode = res.statusCode;
    const responseHeaders = flattenHeaders(res.headers);
    const success = statusCode >= 200 && statusCode < 300;
    const redirect = statusCode >= 300 && statusCode < 400;
    return finish({
      success,
      statusCode,
      responseHeaders,
      responseBody: body,
      responseBodyTruncated: truncated,
      error: redirect
        ? {
            code: 'redirect',
            message: `Redirects are not followed (HTTP ${statusCode}${responseHeaders.location ? ` to ${responseHeaders.location}` : ''}).`,
          }
        : null,
    });
  } catch (error) {
    return finish({
      success: false,
      statusCode: null,
      responseHeaders: null,
      responseBody: null,
      responseBodyTruncated: false,
      error: classifyError(error, signal, opts.timeoutMs),
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Reads up to `limit` bytes; past that the stream is destroyed, never drained. */
async function readCapped(stream: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    const room = limit - size;
    if (chunk.length > room) {
      if (room > 0) chunks.push(chunk.subarray(0, room));
      size = limit;
      truncated = true;
      break; // leaving the loop destroys the body; the connection is closed, not reused
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  if (truncated) stream.destroy();
  // Invalid UTF-8 (binary, gzip, a multi-byte character cut at the limit) decodes to U+FFFD.
  return { body: storableText(Buffer.concat(chunks).toString('utf8')), truncated };
}

/**
 * Text as it is stored and shown: U+0000 (a NUL byte) becomes U+FFFD, the
 * replacement character that invalid UTF-8 already decodes to. Every other
 * character is kept. docs/api.md, "Delivery log", documents it.
 */
export function storableText(text: string): string {
  return text.replaceAll('\0', '\uFFFD');
}

/**
 * undici reads header bytes as Latin-1 (one character per byte) and refuses a
 * response with a NUL byte in a header; `storableText` is a second line.
 */
function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[storableText(name)] = storableText(Array.isArray(value) ? value.join(', ') : value);
  }
  return out;
}

const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|HOSTNAME_MISMATCH|EPROTO)/;

/**
 * Maps a failure with no response to a stable error code
 * (docs/webhooks.md, "Answering a delivery").
 */
export function classifyError(
  error: unknown,
  signal: AbortSignal,
  timeoutMs: number,
): AttemptError {
  const chain: { code?: unknown; name?: unknown; message?: unknown }[] = [];
  for (let e: unknown = error, i = 0; e && typeof e === 'object' && i < 5; i++) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  const codes = chain.map((e) => (typeof e.code === 'string' ? e.code : ''));
  // Messages can quote the receiver (a certificate's names), so they are stored text too.
  const message = storableText(
    chain.map((e) => (typeof e.message === 'string' ? e.message : '')).find(Boolean) ??
      'Request failed',
  );
  if (codes.includes('blocked_destination')) return { code: 'blocked_destination', message };
  if (
    signal.aborted ||
    codes.some((c) => /TIMEOUT|ETIMEDOUT/.test(c)) ||
    chain.some((e) => e.name === 'TimeoutError')
  ) {
    return { code: 'timeout', message: `No complete response within ${timeoutMs} ms.` };
  }
  if (codes.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'ENODATA'))
    return { code: 'dns', message };
  if (codes.some((c) => TLS_CODES.test(c)) || /certificate|TLS|SSL/i.test(message))
    return { code: 'tls', message };
  if (codes.some((c) => /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL)$/.test(c)))
    return { code: 'connect', message };
  if (codes.some((c) => /^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/.test(c))) {
    return { code: 'connection_reset', message };
  }
  return { code: 'request_failed', message };
}
