/**
 * Turns anything thrown inside a request into the contract's error body
 * `{ error: { code, message, details } }`. Unexpected errors are logged with
 * their stack and answered as a bare `internal_error`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, type ErrorCode, type FieldProblem } from '../errors.js';
import type { Dialect } from '../db/dialect.js';
import { toFieldProblems } from './validation.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: FieldProblem[] };
}

export function errorBody(
  code: ErrorCode,
  message?: string,
  details: FieldProblem[] = [],
): ErrorBody {
  return { error: { code, message: message ?? ERRORS[code].message, details } };
}

const FASTIFY_CODES: Partial<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

const BY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
};

/** What a client sending form data or text to the JSON API should do instead. */
export const JSON_ONLY_MESSAGE =
  'Send the body as JSON with the header Content-Type: application/json.';

/**
 * True on the management API, whose only body parser is JSON (src/http/json.ts).
 * Provider endpoints add form and multipart parsers in their own scope
 * (`request.server` is the route's scope), and keep Fastify's message there.
 */
function acceptsOnlyJson(request: FastifyRequest): boolean {
  return !request.server.hasContentTypeParser('application/x-www-form-urlencoded');
}

export function installErrorHandler(app: FastifyInstance, dialect: Dialect): void {
  app.setErrorHandler((error: FastifyError | AppError | Error, request, reply) => {
    if (error instanceof AppError) {
      if (error.status >= 500) request.log.error({ err: error }, error.message);
      return reply.status(error.status).send(errorBody(error.code, error.message, error.details));
    }
    const fe = error as FastifyError;
    if (fe.validation) {
      const context = fe.validationContext ?? 'body';
      const data = { body: request.body, querystring: request.query, params: request.params }[
        context as 'body'
      ];
      const details = toFieldProblems(fe.validation as never, context, data);
      const message = details.map((d) => `${d.field}: ${d.message}`).join('; ');
      return reply.status(400).send(errorBody('validation_failed', message, details));
    }
    const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
    if (mapped === 'unsupported_media_type' && acceptsOnlyJson(request)) {
      return reply.status(415).send(errorBody(mapped, JSON_ONLY_MESSAGE));
    }
    if (mapped) return reply.status(ERRORS[mapped].status).send(errorBody(mapped, fe.message));
    if (dialect.isUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return reply.header('retry-after', '5').status(503).send(errorBody('service_unavailable'));
    }
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
    const byStatus = BY_STATUS[status];
    if (status < 500 && byStatus) return reply.status(status).send(errorBody(byStatus, fe.message));
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send(errorBody('internal_error'));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send(errorBody('not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`));
  });
}

/**
 * Fastify's `frameworkErrors` option: errors raised while routing, before any
 * hook or the error handler above runs. Without it Fastify answers them
 * itself, outside the contract: `{"error":"Bad Request","code":"FST_ERR_BAD_URL",…}`
 * for a path with broken percent-encoding (`/api/users/%zz`, `/api/users/%C0%AF`),
 * and a 414 with no error code for a path parameter longer than the router's
 * `maxParamLength` (100, the longest id a route accepts anyway). Both are a
 * malformed path parameter: 400 `validation_failed`.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const message =
    error.code === 'FST_ERR_BAD_URL'
      ? 'is not a valid URL path (bad percent-encoding)'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'has a path parameter longer than 100 characters'
        : undefined;
  if (message !== undefined) {
    void reply
      .status(400)
      .send(
        errorBody('validation_failed', `path: ${message}`, [
          { field: 'path', message, in: 'params' },
        ]),
      );
    return;
  }
  // FST_ERR_ASYNC_CONSTRAINT: no route has async constraints, so this is a bug.
  request.log.error({ err: error }, 'unhandled routing error');
  void reply.status(500).send(errorBody('internal_error'));
}
