/**
 * How the HTTP server treats connections before and around the routes:
 * request, headers, keep-alive and idle timeouts, trusted proxies, and the
 * answer to what Node's parser refuses (a timeout, a malformed request).
 *
 * Fastify leaves the request timeout off (0); then a client sending its body
 * one byte every few seconds holds a connection, and a body parser's memory,
 * for as long as it likes. Node cuts such requests with 408 once
 * `requestTimeout` (the whole request) or `headersTimeout` (its headers) has
 * passed; expiry is checked every `connectionsCheckingInterval`, so that
 * interval is kept well under the timeouts.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import { errorBody } from './error-handler.js';
import { fastifyTrustProxy } from './trust-proxy.js';

type ConnectionConfig = Pick<
  Config,
  | 'requestTimeoutMs'
  | 'headersTimeoutMs'
  | 'keepAliveTimeoutMs'
  | 'connectionTimeoutMs'
  | 'trustProxy'
>;

/** How often Node looks for expired requests: a quarter of the shortest timeout, at most 1 s. */
export function checkingIntervalMs(config: ConnectionConfig): number {
  const shortest = Math.min(config.requestTimeoutMs, config.headersTimeoutMs);
  return Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
}

/** The Fastify constructor options that concern connections. */
export function connectionOptions(config: ConnectionConfig): Pick<
  FastifyServerOptions,
  'requestTimeout' | 'keepAliveTimeout' | 'connectionTimeout' | 'trustProxy' | 'clientErrorHandler'
> & {
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    // Fastify copies this onto the server after creating it; the copy in
    // `http` is what Node checks headersTimeout against when creating it.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionTimeout: config.connectionTimeoutMs,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(config),
    },
    clientErrorHandler,
  };
}

/** What Node's parser reports, as the contract's codes; anything else is a malformed request. */
const PARSER_ERRORS: Partial<Record<string, ErrorCode>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'payload_too_large',
};

/** Connections whose current request was answered before all of it had arrived. */
const answeredEarly = new WeakSet<Socket>();

/**
 * Notes requests answered before their body had fully arrived (a refused
 * credential, a body too large). Node still times such a request out, but
 * its answer is gone already: a 408 written then would be a stray second
 * response, so the connection is only closed.
 */
export function trackEarlyAnswers(app: FastifyInstance): void {
  app.addHook('onResponse', async (request) => {
    const { raw } = request;
    if (raw.complete !== false || !raw.socket) return;
    const socket = raw.socket;
    answeredEarly.add(socket);
    raw.once('end', () => answeredEarly.delete(socket));
  });
}

/**
 * Fastify's `clientErrorHandler`. Unlike Fastify's default it answers in the
 * contract's error format, and only when no answer to the current request
 * has been written (see trackEarlyAnswers); either way the connection is
 * closed. The error itself is not logged: Node attaches the raw request
 * bytes to parse errors, and those may hold credentials.
 */
function clientErrorHandler(
  this: { log: FastifyBaseLogger },
  error: Error & { code?: string },
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code =
    (error.code === undefined ? undefined : PARSER_ERRORS[error.code]) ?? 'validation_failed';
  const { status } = ERRORS[code];
  this.log.debug({ code: error.code, status }, 'connection closed by the server');
  // Node's own handler checks the same internal field for an answer being written.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true && !answeredEarly.has(socket)) {
    const message = code === 'validation_failed' ? 'The request is not valid HTTP.' : undefined;
    const body = JSON.stringify(errorBody(code, message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
        'Connection: close\r\n' +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
