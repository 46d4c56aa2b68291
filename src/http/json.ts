/**
 * The JSON body parser. Beyond JSON.parse it rejects what would otherwise
 * fail deep inside a request: NUL characters (PostgreSQL text cannot hold
 * them) and `__proto__` keys (prototype-pollution bait).
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

export function installJsonParser(app: FastifyInstance): void {
  // Only JSON is accepted by default; provider endpoints add their own parsers in their scope.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, parseJson(text));
    } catch (error) {
      done(
        error instanceof AppError
          ? error
          : new AppError('invalid_json', undefined, [], { cause: error }),
        undefined,
      );
    }
  });
}

export function parseJson(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__')
      throw new AppError('invalid_json', 'The key "__proto__" is not allowed.');
    if (key.includes('\u0000') || (typeof value === 'string' && value.includes('\u0000'))) {
      throw new AppError('invalid_json', 'Strings may not contain NUL characters.');
    }
    return value;
  });
}
