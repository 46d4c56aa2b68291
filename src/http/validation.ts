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
 * Ajv errors → `FieldProblem`s with dotted field paths (`questions[0].type`)
 * and messages in words that read after the field's name ("name must not be
 * empty"), as the console puts them under its fields (see `plainMessage`).
 * A union (`anyOf`) reports one error per branch plus its own; those collapse
 * into one problem per field: "must be one of: …" for unions of constants,
 * "must be an integer or null" for unions of types, else the most telling
 * branch error without the generic anyOf line. `data` is the validated value,
 * so an object key made of digits (a header named `3`, a question id `1`)
 * reads `headers.3`, not the array index `headers[3]`.
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
      if (siblings.length > 1 && siblings.every((x) => x.keyword === 'type')) {
        handled.add(e.instancePath);
        const types = siblings.flatMap((x) => typeNames(x.params));
        problems.push({ field: field || '(root)', message: mustBeType(types), in: where });
        continue;
      }
      // One problem per union field: the most telling branch error ("must be at
      // least 1" rather than the other branch's "must be null").
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
      field = join(field, params.additionalProperty);
    } else if (
      e.keyword === 'propertyNames' &&
      errors.some((x) => x.instancePath === e.instancePath && x.propertyName !== undefined)
    ) {
      continue; // "property name must be valid": the key's own error below says how
    }
    problems.push({ field: field || '(root)', message: plainMessage(e), in: where });
  }
  return problems;
}

/**
 * One Ajv error as a lower-case clause that reads after the field's name:
 * "is required", "must not be empty", "must be at most 200 characters long",
 * "must be a valid URL". Ajv's own wording ("must NOT have fewer than 1
 * characters", "must have required property 'name'") is schema text, and the
 * console shows these messages to people as "Name must not be empty.".
 * Keywords not listed keep Ajv's message.
 */
export function plainMessage(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  const limit = Number(params.limit);
  const clause = ((): string | undefined => {
    switch (e.keyword) {
      case 'required':
        return 'is required';
      case 'additionalProperties':
        return 'is not a known field';
      case 'minLength':
        return limit === 1
          ? 'must not be empty'
          : `must be at least ${count(limit, 'character')} long`;
      case 'maxLength':
        return `must be at most ${count(limit, 'character')} long`;
      case 'minimum':
        return `must be at least ${String(params.limit)}`;
      case 'maximum':
        return `must be at most ${String(params.limit)}`;
      case 'exclusiveMinimum':
        return `must be greater than ${String(params.limit)}`;
      case 'exclusiveMaximum':
        return `must be less than ${String(params.limit)}`;
      case 'multipleOf':
        return `must be a multiple of ${String(params.multipleOf)}`;
      case 'type':
        return mustBeType(typeNames(params));
      case 'format':
        return `must be a valid ${FORMATS[String(params.format)] ?? String(params.format)}`;
      case 'pattern':
        return 'has the wrong format';
      case 'minItems':
        return `must have at least ${count(limit, 'item')}`;
      case 'maxItems':
        return `must have at most ${count(limit, 'item')}`;
      case 'uniqueItems':
        return 'must not contain duplicates';
      case 'minProperties':
        return `must have at least ${count(limit, 'entry', 'entries')}`;
      case 'maxProperties':
        return `must have at most ${count(limit, 'entry', 'entries')}`;
      case 'enum':
        return `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
      case 'const':
        return `must be one of: ${String(params.allowedValue)}`;
      default:
        return undefined;
    }
  })();
  const message = clause ?? e.message ?? 'is invalid';
  // An error about an object's key (propertyNames): the field is the object.
  return e.propertyName === undefined
    ? message
    : `has a key ${quote(e.propertyName)} that ${message}`;
}

/** How `format` errors name what was expected. */
const FORMATS: Record<string, string> = {
  uri: 'URL',
  'uri-reference': 'URL',
  url: 'URL',
  email: 'email address',
  'date-time': 'date-time (ISO 8601)',
  date: 'date (YYYY-MM-DD)',
  time: 'time (HH:MM:SS)',
  uuid: 'UUID',
  ipv4: 'IPv4 address',
  ipv6: 'IPv6 address',
  hostname: 'host name',
};

function typeNames(params: Record<string, unknown>): string[] {
  const type = params.type;
  return Array.isArray(type) ? type.map(String) : String(type).split(',');
}

/** "must be a string", "must be an integer or null". */
function mustBeType(types: readonly string[]): string {
  const named = types.map((t) =>
    t === 'null' ? 'null' : /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`,
  );
  const last = named.pop() ?? 'valid';
  return `must be ${named.length > 0 ? `${named.join(', ')} or ${last}` : last}`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A key as the message quotes it: JSON-quoted, long ones cut (a key may be any length). */
function quote(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
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
