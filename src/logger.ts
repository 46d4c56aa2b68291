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

export function createLogger(level: LogLevel): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

export type { Logger };
