/**
 * One request to `hookdesk listen`: read the body (at most
 * LISTEN_BODY_LIMIT_BYTES), count the attempt, check the signatures, then
 * either answer `--status` or forward to `--forward-to` and answer what the
 * app answered. Each request prints one block once its answer is known.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AttemptCounter } from './attempts.js';
import { forward, forwardedHeaders } from './forward.js';
import { block, describeAttempt, describeBody, preview, printable } from './print.js';
import { checkSignatures, describeVerdict } from './signatures.js';

/** Largest request body read; larger bodies answer 413. */
export const LISTEN_BODY_LIMIT_BYTES = 64 * 1024;

export interface HandlerOptions {
  /** When set, `X-Webhook-Signature` and `webhook-signature` are checked against it. */
  secret?: string | undefined;
  /** Status answered to every POST when not forwarding. */
  status: number;
  /** When set, every POST whose signature passes is relayed here. */
  forwardTo?: URL | undefined;
  out: NodeJS.WritableStream;
  attempts: AttemptCounter;
  /** Wall clock (epoch ms), for the printed times. */
  now: () => number;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Statuses whose answers carry no body (RFC 9110 §6.4.1). */
function bodiless(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

function answerBytes(
  res: ServerResponse,
  status: number,
  contentType: string | undefined,
  body: Buffer,
  extra: Record<string, string> = {},
): void {
  if (bodiless(status)) {
    res.writeHead(status, extra);
    res.end();
    return;
  }
  res.writeHead(status, {
    ...(contentType === undefined ? {} : { 'content-type': contentType }),
    'content-length': body.length,
    ...extra,
  });
  res.end(body);
}

function answer(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  answerBytes(res, status, 'application/json', Buffer.from(JSON.stringify(body)), extra);
}

/** What `--status` answers: a non-2xx one says it is a failure on purpose. */
export function statusBody(status: number): Record<string, unknown> {
  if (status >= 200 && status < 300) return { received: true };
  return {
    received: true,
    simulated: 'failure',
    status,
    note: `hookdesk listen --status ${status}: answering ${status} on purpose`,
  };
}

export function handle(opts: HandlerOptions, req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    // A liveness answer, so `curl` (and tests) can see the listener is up.
    answer(res, 200, { listening: true, hint: 'POST webhooks to any path' });
    return;
  }
  if (req.method !== 'POST') {
    answer(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD, POST' });
    return;
  }

  const at = opts.now();
  const method = req.method;
  const url = req.url ?? '/';
  const deliveryId = header(req, 'x-webhook-delivery') ?? header(req, 'webhook-id');
  const sighting = deliveryId === undefined ? null : opts.attempts.record(deliveryId, at);
  const idLines = [
    `event: ${printable(header(req, 'x-webhook-event') ?? '(none)')}`,
    `delivery: ${printable(deliveryId ?? '(none)')}`,
    `attempt: ${describeAttempt(sighting, deliveryId !== undefined, at)}`,
  ];
  const print = (lines: string[]): void => {
    opts.out.write(block(method, url, [...idLines, ...lines], new Date(at)));
  };
  const tooLarge = (): void => {
    print([`body: larger than ${LISTEN_BODY_LIMIT_BYTES} bytes, answered 413`]);
    answer(res, 413, { error: 'payload_too_large' }, { connection: 'close' });
  };

  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > LISTEN_BODY_LIMIT_BYTES) {
    tooLarge();
    req.resume();
    return;
  }

  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  req.on('data', (chunk: Buffer) => {
    if (done) return;
    size += chunk.length;
    if (size > LISTEN_BODY_LIMIT_BYTES) {
      done = true;
      chunks.length = 0;
      tooLarge();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (done) return;
    done = true;
    void respond(opts, req, res, Buffer.concat(chunks), print);
  });
  req.on('error', () => {
    done = true;
  });
}

async function respond(
  opts: HandlerOptions,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  print: (lines: string[]) => void,
): Promise<void> {
  const verdict = checkSignatures(opts.secret, body, {
    xWebhookSignature: header(req, 'x-webhook-signature'),
    webhookSignature: header(req, 'webhook-signature'),
    webhookId: header(req, 'webhook-id'),
    webhookTimestamp: header(req, 'webhook-timestamp'),
  });
  const lines = [`signature: ${describeVerdict(verdict)}`, describeBody(body)];

  const target = opts.forwardTo;
  if (target === undefined) {
    const simulated = opts.status < 200 || opts.status >= 300;
    if (simulated) lines.push(`answered: ${opts.status} (a simulated failure, --status)`);
    print(lines);
    answer(res, opts.status, statusBody(opts.status));
    return;
  }

  // With --secret, only a request proven to come from Hookdesk reaches the app.
  if (verdict.kind === 'INVALID' || verdict.kind === 'none sent') {
    const error = verdict.kind === 'INVALID' ? 'invalid_signature' : 'signature_missing';
    const detail =
      verdict.kind === 'INVALID'
        ? verdict.reasons.join('; ')
        : 'no X-Webhook-Signature or webhook-signature header, and --secret was given';
    lines.push(`forward: not forwarded to ${target.href} (${error}); answered 400`);
    print(lines);
    answer(res, 400, { received: true, forwarded: false, error, detail });
    return;
  }

  const result = await forward(
    target,
    req.method ?? 'POST',
    forwardedHeaders(req.rawHeaders),
    body,
  );
  const sent =
    verdict.kind === 'not checked'
      ? `sent to ${target.href} without a signature check (no --secret)`
      : `sent to ${target.href}`;
  if (!result.ok) {
    lines.push(`forward: ${sent}; ${printable(result.detail)}; answered 502`);
    print(lines);
    answer(res, 502, {
      received: true,
      forwarded: false,
      error: result.error,
      detail: result.detail,
    });
    return;
  }
  lines.push(
    `forward: ${sent}; it answered ${result.status} in ${result.durationMs} ms: ` +
      preview(result.body, result.truncated),
  );
  print(lines);
  answerBytes(res, result.status, result.contentType, result.body);
}
