/** Schema pieces shared by every route. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO-8601 UTC' });
export const Uuid = Type.String({ format: 'uuid' });

/** Path parameter ids are plain strings: an id that is not a UUID simply matches nothing (404). */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Array(
      Type.Object({
        field: Type.String(),
        message: Type.String(),
        in: Type.Optional(Type.String()),
        code: Type.Optional(
          Type.String({ description: 'A stable code on some refusals (see docs/errors.md).' }),
        ),
      }),
    ),
  }),
});

/** A JSON object of caller-defined keys (embedded data, metadata). */
export const FreeObject = Type.Record(Type.String(), Type.Unknown());

/** Standard error responses for documentation. */
export const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  404: ErrorResponse,
} as const;

/** The answer of a route that answers 204 without a body. */
export const NoContent = Type.Null({ description: 'Done; no body.' });

/**
 * The schema with example values for /docs: @fastify/swagger turns a
 * top-level `examples` into the example of the request or answer. Examples
 * are an annotation: Ajv and the serializer ignore them, and
 * test/openapi-docs.test.ts checks each one against its schema.
 */
export function withExamples<T extends TSchema>(schema: T, ...examples: Static<T>[]): T {
  return { ...schema, examples };
}
