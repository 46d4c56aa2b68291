/**
 * Two Ajv instances. Bodies are validated strictly: no type coercion (the
 * string "5" is not a number), unknown properties are errors, and every
 * problem is reported. Query strings and path parameters arrive as text, so
 * they are coerced.
 */
import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FieldProblem } from '../errors.js';

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
 * else the branch errors without the generic anyOf line.
 */
export function toFieldProblems(errors: readonly ErrorObject[], context: string): FieldProblem[] {
  const where = PART[context] ?? 'body';
  const unionPaths = new Set(
    errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath),
  );
  const problems: FieldProblem[] = [];
  const handled = new Set<string>();
  for (const e of errors) {
    const params = e.params as Record<string, unknown>;
    let field = pointerToPath(e.instancePath);
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

function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out = /^\d+$/.test(seg) ? `${out}[${seg}]` : join(out, seg);
  }
  return out;
}

function join(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}
