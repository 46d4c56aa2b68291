import type { FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/**
 * Paths pino blanks in every log line. API keys, webhook secrets, provider
 * credentials and signatures must never reach a log, wherever they appear.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-webhook-signature"]',
  'req.headers["x-twilio-signature"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-twilio-email-event-webhook-signature"]',
  'headers.authorization',
  '*.apiKey',
  '*.key',
  '*.secret',
  '*.password',
  '*.authToken',
  '*.appSecret',
  '*.signingKey',
];

/**
 * Query parameters whose value is a credential: the inbound email token (and
 * SendGrid Inbound Parse's `token`) and Meta's `hub.verify_token`.
 */
const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set(['token', 'hub.verify_token']);

/**
 * A query parameter's name decoded as the router decodes it (fast-querystring:
 * `+` is a space, percent-escapes are decoded, a malformed escape leaves the
 * name as it is), so that `?%74oken=` is judged exactly like `?token=`.
 */
function decodedQueryName(raw: string): string {
  const spaced = raw.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/**
 * The URL with the value of every secret query parameter replaced by
 * `[redacted]`, whatever the spelling of its name; the rest is kept as sent.
 * The query starts after the first `?` or `#`, where the router starts it.
 */
export function redactUrl(url: string): string {
  const start = url.search(/[?#]/);
  if (start < 0) return url;
  let changed = false;
  const pairs = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      if (!SECRET_QUERY_PARAMS.has(decodedQueryName(name))) return pair;
      changed = true;
      return `${name}=[redacted]`;
    });
  return changed ? `${url.slice(0, start + 1)}${pairs.join('&')}` : url;
}

/** The fields of Fastify's own `req` serializer, with the URL redacted. */
export function redactedRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Every route's request line; routes that take credentials in the query
    // also name it in their own logSerializers, whatever logger the app gets.
    serializers: { req: redactedRequest },
  });
}

export type { Logger };
