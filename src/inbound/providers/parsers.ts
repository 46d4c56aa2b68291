/**
 * Request bodies of provider callbacks. Signatures cover the bytes as sent,
 * so JSON and form bodies reach the handlers as the raw Buffer and are parsed
 * only after the signature checks out. Multipart (SendGrid Inbound Parse,
 * Mailgun routes) is streamed: fields are kept, attachment bytes are counted
 * and dropped (attachments are recorded as metadata only).
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, toError } from '../../errors.js';
import { parseJson } from '../../http/json.js';

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
  const raw = (_request: FastifyRequest, body: Buffer, done: (e: null, b: Buffer) => void) =>
    done(null, body);
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, raw);
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, raw);
  if (options.multipart) {
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

export interface FilePart {
  field: string;
  filename: string;
  contentType: string | null;
  size: number;
}

export interface MultipartForm {
  fields: FormParams;
  files: FilePart[];
}

/**
 * Reads a multipart body. Malformed multipart (a broken boundary, a cut-off
 * part) is the sender's fault: 400, never the 5xx the parser would report.
 */
export async function readMultipart(request: FastifyRequest): Promise<MultipartForm> {
  const fields: FormParams = Object.create(null) as FormParams;
  const files: FilePart[] = [];
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        let size = 0;
        for await (const chunk of part.file) size += (chunk as Buffer).length;
        files.push({
          field: part.fieldname,
          filename: part.filename,
          contentType: part.mimetype || null,
          size,
        });
        continue;
      }
      if (part.valueTruncated)
        throw new AppError('payload_too_large', 'A form field is too large.');
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      const current = fields[part.fieldname];
      if (current === undefined) fields[part.fieldname] = value;
      else fields[part.fieldname] = Array.isArray(current) ? [...current, value] : [current, value];
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    const status = (error as { statusCode?: unknown }).statusCode;
    if (status === 413) throw new AppError('payload_too_large', undefined, [], { cause: error });
    throw new AppError('validation_failed', 'The multipart body is malformed.', [], {
      cause: toError(error),
    });
  }
  rejectNul(fields);
  return { fields, files };
}
