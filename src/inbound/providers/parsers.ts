/**
 * Request bodies of provider callbacks. Signatures cover the bytes as sent,
 * so JSON and form bodies reach the handlers as the raw Buffer and are parsed
 * only after the signature checks out. Multipart (SendGrid Inbound Parse,
 * Mailgun routes) is streamed by multipart.ts.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { parseJson } from '../../http/json.js';
import { closeAfterEarlyAnswers } from './unread-bodies.js';

/** Inbound email posts carry whole messages with attachments, far above the API's usual limit. */
export const INBOUND_EMAIL_LIMIT_BYTES = 50 * 1024 * 1024;

export interface ParserOptions {
  multipart?: boolean;
}

/** Installs the provider body parsers in the calling (encapsulated) scope only. */
export async function installProviderParsers(
  scope: FastifyInstance,
  options: ParserOptions = {},
): Promise<void> {
  scope.removeAllContentTypeParsers();
  closeAfterEarlyAnswers(scope);
  const raw = (_request: FastifyRequest, body: Buffer, done: (e: null, b: Buffer) => void) =>
    done(null, body);
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, raw);
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, raw);
  if (options.multipart) {
    // Per-part bounds; the limit on all parts together is readMultipart's.
    await scope.register(multipart, {
      limits: {
        fieldSize: INBOUND_EMAIL_LIMIT_BYTES,
        fileSize: INBOUND_EMAIL_LIMIT_BYTES,
        fields: 200,
        files: 100,
        parts: 300,
      },
    });
  }
}

/** The raw body, or an empty Buffer when there was none. */
export function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

export type FormParams = Record<string, string | string[]>;

const NUL = '\u0000';

/**
 * Every posted parameter (Twilio signs all of them, including ones added
 * after this code was written); a repeated name becomes an array.
 */
export function formParams(raw: Buffer): FormParams {
  const params: FormParams = Object.create(null) as FormParams;
  for (const [name, value] of new URLSearchParams(raw.toString('utf8'))) {
    const current = params[name];
    if (current === undefined) params[name] = value;
    else params[name] = Array.isArray(current) ? [...current, value] : [current, value];
  }
  return params;
}

/** A single value of a form parameter (the first, when repeated). */
export function one(params: FormParams, name: string): string | undefined {
  const value = params[name];
  return Array.isArray(value) ? value[0] : value;
}

/** PostgreSQL text cannot hold NUL; checked after the signature, before anything is stored. */
export function rejectNul(params: FormParams): void {
  for (const [name, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value : [value];
    if (name.includes(NUL) || values.some((v) => v.includes(NUL))) {
      throw new AppError('validation_failed', 'Form values may not contain NUL characters.');
    }
  }
}

/** Parses a JSON body with the API's rules (no NUL, no `__proto__`), answering 400 otherwise. */
export function jsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw new AppError('invalid_json', 'The request body is empty.');
  try {
    return parseJson(raw.toString('utf8'));
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('invalid_json', undefined, [], { cause: error });
  }
}
