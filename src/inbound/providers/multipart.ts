/**
 * Multipart posts of email providers (SendGrid Inbound Parse, Mailgun
 * routes), read as they stream in. The whole body (every part, fields and
 * files, with their headers and boundaries) counts toward one limit: a
 * declared Content-Length over it is refused before anything is read, and a
 * body that grows past it is refused with 413 when the chunk that passes it
 * arrives, the rest left unread (unread-bodies.ts closes the connection).
 * File contents are counted and dropped (attachments are recorded as
 * metadata only), so at most the limit's worth of fields stays in memory
 * per request.
 */
import type { IncomingMessage } from 'node:http';
import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { AppError, toError } from '../../errors.js';
import { INBOUND_EMAIL_LIMIT_BYTES, rejectNul, type FormParams } from './parsers.js';

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

export interface ReadOptions {
  /** Bytes the whole body may take, all parts together. (Default: INBOUND_EMAIL_LIMIT_BYTES) */
  limit?: number;
  /**
   * Called after each field with the fields so far. Throwing refuses the post
   * there, before the rest is read: Mailgun's signature travels in the body.
   */
  onField?: (fields: FormParams) => void;
}

/** True for a `multipart/form-data` Content-Type, whatever its parameters and case. */
export function isMultipartType(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'multipart/form-data';
}

function tooLarge(limit: number): AppError {
  const mib = Math.round(limit / 1024 / 1024);
  return new AppError(
    'payload_too_large',
    `The body is larger than ${mib} MiB (all parts together).`,
  );
}

/**
 * Counts the body's bytes as they arrive, ahead of the parser; past the
 * limit it stops the flow at once and rejects `exceeded`.
 */
class BodyBudget {
  private received = 0;
  private stopped = false;
  readonly exceeded: Promise<never>;
  private reject: (error: AppError) => void = () => undefined;

  constructor(
    private readonly raw: IncomingMessage,
    private readonly limit: number,
  ) {
    this.exceeded = new Promise<never>((_resolve, reject) => {
      this.reject = reject;
    });
    // First in line, so the chunk that passes the limit is seen before the parser gets it.
    raw.prependListener('data', this.count);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private readonly count = (chunk: Buffer): void => {
    this.received += chunk.length;
    if (this.received <= this.limit) return;
    this.stop();
    this.reject(tooLarge(this.limit));
  };

  /** Stops feeding the parser and reading the socket; the rest of the body stays unread. */
  stop(): void {
    this.stopped = true;
    this.raw.unpipe();
    this.raw.pause();
    this.release();
  }

  release(): void {
    this.raw.removeListener('data', this.count);
  }
}

async function collect(
  parts: AsyncIterator<Multipart>,
  first: Promise<IteratorResult<Multipart>>,
  budget: BodyBudget,
  onField: ReadOptions['onField'],
): Promise<MultipartForm> {
  const fields: FormParams = Object.create(null) as FormParams;
  const files: FilePart[] = [];
  for (let next = await first; !next.done; next = await parts.next()) {
    // Refused meanwhile: parts still queued in the parser are not looked at.
    if (budget.isStopped) break;
    const part = next.value;
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
    if (part.valueTruncated) throw new AppError('payload_too_large', 'A form field is too large.');
    const value = typeof part.value === 'string' ? part.value : String(part.value);
    const current = fields[part.fieldname];
    if (current === undefined) fields[part.fieldname] = value;
    else fields[part.fieldname] = Array.isArray(current) ? [...current, value] : [current, value];
    onField?.(fields);
  }
  return { fields, files };
}

/** Malformed multipart (a broken boundary, a cut-off part) is the sender's fault: 400, never 5xx. */
function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (status === 413) return new AppError('payload_too_large', undefined, [], { cause: error });
  return new AppError('validation_failed', 'The multipart body is malformed.', [], {
    cause: toError(error),
  });
}

/**
 * Reads a multipart body within the limit, all parts together. Any refusal
 * (the limit, `onField`, a malformed part) stops reading where it happens.
 */
export async function readMultipart(
  request: FastifyRequest,
  options: ReadOptions = {},
): Promise<MultipartForm> {
  const limit = options.limit ?? INBOUND_EMAIL_LIMIT_BYTES;
  if (Number(request.headers['content-length']) > limit) throw tooLarge(limit);
  const parts = request.parts()[Symbol.asyncIterator]();
  // The first step attaches the parser to the request; the budget must count from the first chunk.
  const first = parts.next();
  const budget = new BodyBudget(request.raw, limit);
  const reading = collect(parts, first, budget, options.onField);
  try {
    const form = await Promise.race([reading, budget.exceeded]);
    // A client that hangs up mid-body leaves a form that only looks complete.
    if (request.raw.readableAborted) {
      throw new AppError('validation_failed', 'The multipart body was cut off.');
    }
    rejectNul(form.fields);
    return form;
  } catch (error) {
    budget.stop();
    // Left waiting on a parser that gets no more bytes; it settles when the connection closes.
    reading.catch(() => undefined);
    throw asAppError(error);
  } finally {
    budget.release();
  }
}
