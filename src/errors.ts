/**
 * Every error the API can answer with, declared once with its stable code and
 * HTTP status. Clients and tests match on `code`, never on message wording.
 * docs/errors.md lists the same codes; a test keeps the two in step.
 */
export const ERRORS = {
  validation_failed: { status: 400, message: 'The request is invalid.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  unauthorized: { status: 401, message: 'A valid API key is required.' },
  forbidden: { status: 403, message: 'This API key may not do that.' },
  not_found: { status: 404, message: 'Not found.' },
  request_timeout: { status: 408, message: 'The request was not received in time.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  webhook_inactive: { status: 409, message: 'The webhook is not active.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Unsupported Content-Type.' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  internal_error: { status: 500, message: 'Internal error.' },
  service_unavailable: { status: 503, message: 'The service is temporarily unavailable.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Stable codes on single `details[]` entries, for the refusals a client must
 * tell apart (the console explains an SSRF refusal differently from a plain
 * http URL). Only these entries carry a `code`; docs/errors.md lists them and
 * a test keeps the two in step.
 */
export const DETAIL_CODES = {
  invalid_url: 'The webhook URL cannot be parsed.',
  https_required: 'The webhook URL does not use https (or http is not enabled).',
  url_credentials: 'The webhook URL holds a username or password.',
  blocked_destination: 'The webhook URL names a private, loopback, link-local or internal host.',
} as const satisfies Record<string, string>;

export type DetailCode = keyof typeof DETAIL_CODES;

/** One problem with one input field; `field` is a dotted path such as `requester.email`. */
export interface FieldProblem {
  field: string;
  message: string;
  in?: 'body' | 'query' | 'params' | 'headers';
  /** Present only on the refusals listed in `DETAIL_CODES`. */
  code?: DetailCode;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details: FieldProblem[] = [],
    options?: { cause?: unknown },
  ) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found.`);

/** A single-field validation failure, for rules a JSON Schema cannot express. */
export function invalid(field: string, message: string): AppError {
  return new AppError('validation_failed', `${field}: ${message}`, [
    { field, message, in: 'body' },
  ]);
}

/** Collects several field problems and throws them together, so clients see all at once. */
export class Problems {
  private readonly list: FieldProblem[] = [];
  add(field: string, message: string, code?: DetailCode): void {
    this.list.push(
      code === undefined ? { field, message, in: 'body' } : { field, message, in: 'body', code },
    );
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
  throwIfAny(): void {
    if (this.list.length > 0) {
      throw new AppError(
        'validation_failed',
        this.list.map((p) => `${p.field}: ${p.message}`).join('; '),
        this.list,
      );
    }
  }
}

/** Turns any thrown value into an Error, keeping the original as `cause`. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : 'Non-error thrown', { cause: value });
}
