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

/** Ajv errors → one `FieldProblem` each, with dotted field paths (`questions[0].type`). */
export function toFieldProblems(errors: readonly ErrorObject[], context: string): FieldProblem[] {
  const where = PART[context] ?? 'body';
  return errors.map((e) => {
    let field = pointerToPath(e.instancePath);
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      field = join(field, params.missingProperty);
    } else if (
      e.keyword === 'additionalProperties' &&
      typeof params.additionalProperty === 'string'
    ) {
      field = join(field, params.additionalProperty);
      return { field, message: 'is not an allowed property', in: where };
    }
    return { field: field || '(root)', message: e.message ?? 'is invalid', in: where };
  });
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
