/**
 * Two Ajv instances. Bodies are validated strictly: no type coercion (the
 * string "5" is not a number), unknown properties are errors, and every
 * problem is reported. Query strings and path parameters arrive as text, so
 * they are coerced.
 */
import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { AppError, type FieldProblem } from '../errors.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
    ...options,
  });
  addFormats(ajv);
  return ajv;
}

const strictAjv = makeAjv({ coerceTypes: false });
const coercingAjv = makeAjv({ coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strictAjv : coercingAjv;
  return ajv.compile(schema as object);
};

const PART: Record<string, FieldProblem['in']> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

/**
 * Ajv errors → `FieldProblem`s with dotted field paths (`questions[0].type`).
 * A union (`anyOf`) reports one error per branch plus its own; those collapse
 * into one problem per field: "must be one of: …" for unions of constants,
 * else the branch errors without the generic anyOf line. `data` is the
 * validated value, so an object key made of digits (a header named `3`, a
 * question id `1`) reads `headers.3`, not the array index `headers[3]`.
 */
export function toFieldProblems(
  errors: readonly ErrorObject[],
  context: string,
  data?: unknown,
): FieldProblem[] {
  const where = PART[context] ?? 'body';
  const unionPaths = new Set(
    errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath),
  );
  const problems: FieldProblem[] = [];
  const handled = new Set<string>();
  for (const e of errors) {
    const params = e.params as Record<string, unknown>;
    let field = pointerToPath(e.instancePath, data);
    if (unionPaths.has(e.instancePath)) {
      if (handled.has(e.instancePath)) continue;
      const siblings = errors.filter(
        (x) => x.instancePath === e.instancePath && x.keyword !== 'anyOf',
      );
      if (siblings.length > 0 && siblings.every((x) => x.keyword === 'const')) {
        handled.add(e.instancePath);
        const allowed = siblings.map((x) =>
          String((x.params as { allowedValue?: unknown }).allowedValue),
        );
        problems.push({
          field: field || '(root)',
          message: `must be one of: ${allowed.join(', ')}`,
          in: where,
        });
        continue;
      }
      if (e.keyword === 'anyOf' && siblings.length > 0) continue;
      // One problem per union field: the most telling branch error ("must be >= 1"
      // rather than the other branch's "must be null").
      const telling = siblings.find((x) => x.keyword !== 'type') ?? siblings[0];
      if (telling && e !== telling) continue;
      handled.add(e.instancePath);
    }
    if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      field = join(field, params.missingProperty);
    } else if (
      e.keyword === 'additionalProperties' &&
      typeof params.additionalProperty === 'string'
    ) {
      problems.push({
        field: join(field, params.additionalProperty),
        message: 'is not an allowed property',
        in: where,
      });
      continue;
    }
    problems.push({ field: field || '(root)', message: e.message ?? 'is invalid', in: where });
  }
  return problems;
}

function pointerToPath(pointer: string, data?: unknown): string {
  let out = '';
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    // Digits are an array index only where the value is an array (or unknown).
    const index = /^\d+$/.test(seg) && (data === undefined || Array.isArray(node));
    out = index ? `${out}[${seg}]` : join(out, seg);
    node =
      typeof node === 'object' && node !== null
        ? (node as Record<string, unknown>)[seg]
        : undefined;
  }
  return out;
}

function join(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}

/**
 * Refuses NUL characters in the URL: path parameters and query-string keys
 * and values, after percent-decoding (`/api/contacts/%00`, `?email=a%00b`).
 * PostgreSQL text cannot hold NUL, so such a value used to fail inside the
 * query as a 500 (SQLite silently compared it). The JSON parser refuses NUL
 * in bodies (json.ts); this is the same rule for the rest of the input.
 * Installed as a root `preValidation` hook, so it runs after authentication
 * and before any route's validation or handler.
 */
export function installUrlNulGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const problems = [...nulFields(request.params, 'params'), ...nulFields(request.query, 'query')];
    if (problems.length > 0) {
      throw new AppError(
        'validation_failed',
        problems.map((p) => `${p.field}: ${p.message}`).join('; '),
        problems,
      );
    }
  });
}

function nulFields(part: unknown, where: 'params' | 'query'): FieldProblem[] {
  if (typeof part !== 'object' || part === null) return [];
  const problems: FieldProblem[] = [];
  for (const [key, value] of Object.entries(part)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (
      key.includes('\u0000') ||
      values.some((v) => typeof v === 'string' && v.includes('\u0000'))
    ) {
      problems.push({
        field: key.replaceAll('\u0000', '\\u0000'),
        message: 'must not contain NUL characters',
        in: where,
      });
    }
  }
  return problems;
}

/**
 * A `date-time` query parameter (already checked by the route's schema) as
 * epoch milliseconds. RFC 3339, and so the schema's `date-time` format,
 * allows a leap second (`2016-12-31T23:59:60Z`) that Date.parse cannot read:
 * NaN reached the query, a 500 on PostgreSQL and an empty page on SQLite. A
 * leap second reads as the last millisecond of its minute; anything else
 * Date.parse cannot read is a validation problem, never NaN.
 */
export function queryTimestamp(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value.replace(/([T\s]\d\d:\d\d):60(\.\d+)?/i, '$1:59.999'));
  if (Number.isNaN(ms)) {
    const message = 'is not a date-time this API can read';
    throw new AppError('validation_failed', `${field}: ${message}`, [
      { field, message, in: 'query' },
    ]);
  }
  return ms;
}
