/**
 * `hookdesk listen --forward-to <url>`: relays a delivery to a local app,
 * like `stripe listen --forward-to`. The request goes to exactly the given
 * URL (the path Hookdesk posted to is not appended) with the same method, the
 * body bytes unchanged and the headers Hookdesk sent, so the app can verify
 * the signatures itself. The app's answer (status, content type, at most
 * FORWARD_ANSWER_LIMIT_BYTES of body) is what the listener answers Hookdesk.
 */
import { request } from 'undici';

/** Whole-request deadline of a forward: connect, headers and body. */
export const FORWARD_TIMEOUT_MS = 10_000;

/** Bytes of the app's body read and relayed to Hookdesk; the rest is dropped. */
export const FORWARD_ANSWER_LIMIT_BYTES = 4 * 1024;

/**
 * Never forwarded: headers about this connection rather than the message
 * (hop-by-hop, RFC 9110 §7.6.1), those the new request sets itself (host,
 * content-length), and accept-encoding, since the app's body is relayed as
 * bytes and must not come back compressed.
 */
const NOT_FORWARDED = new Set([
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'accept-encoding',
]);

/**
 * The headers to forward, from the request's raw headers (name case, order
 * and repeats as received), as undici's flat `[name, value, …]` list.
 */
export function forwardedHeaders(rawHeaders: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i]!.toLowerCase() === 'connection')
      for (const token of rawHeaders[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (NOT_FORWARDED.has(name) || named.has(name)) continue;
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

export type ForwardResult =
  | {
      ok: true;
      status: number;
      contentType: string | undefined;
      body: Buffer;
      /** True when the app's body was longer than FORWARD_ANSWER_LIMIT_BYTES. */
      truncated: boolean;
      durationMs: number;
    }
  | { ok: false; error: 'app_unreachable' | 'app_timeout'; detail: string; durationMs: number };

export async function forward(
  url: URL,
  method: string,
  headers: string[],
  body: Buffer,
  timeoutMs = FORWARD_TIMEOUT_MS,
): Promise<ForwardResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const controller = new AbortController();
  // A timer cleared when the forward ends, rather than AbortSignal.timeout(),
  // which would stay armed for the full delay after every forward.
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await request(url, { method, headers, body, signal: controller.signal });
    const { bytes, truncated } = await readCapped(res.body, FORWARD_ANSWER_LIMIT_BYTES);
    const type = res.headers['content-type'];
    return {
      ok: true,
      status: res.statusCode,
      contentType: Array.isArray(type) ? type[0] : type,
      body: bytes,
      truncated,
      durationMs: elapsed(),
    };
  } catch (error) {
    if (controller.signal.aborted)
      return {
        ok: false,
        error: 'app_timeout',
        detail: `${url.href} did not answer within ${timeoutMs / 1000} s`,
        durationMs: elapsed(),
      };
    return {
      ok: false,
      error: 'app_unreachable',
      detail: `could not reach ${url.href}: ${reason(error)}`,
      durationMs: elapsed(),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Up to `limit` bytes; past that the stream is destroyed, never drained. */
async function readCapped(
  stream: AsyncIterable<Buffer>,
  limit: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const room = limit - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      return { bytes: Buffer.concat(chunks), truncated: true }; // leaving the loop destroys it
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

/** The most specific message along an error's `cause` chain (`connect ECONNREFUSED …`). */
function reason(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (e.message) message = e.message;
    e = e.cause;
  }
  return message;
}
