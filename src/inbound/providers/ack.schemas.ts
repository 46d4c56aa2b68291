/**
 * The JSON answer of the provider callbacks that answer JSON (SendGrid,
 * Mailgun, Postmark): a plain acknowledgement, for /docs. The requests are
 * the providers' own formats (docs/providers.md), so they carry no schema.
 */
import { Type } from '@sinclair/typebox';
import { withExamples } from '../../http/schemas.js';

const Ack = withExamples(Type.Object({ success: Type.Literal(true) }), { success: true });

/** Route options of `callbackRoute` with the acknowledgement documented as the 200. */
export function acknowledged<T extends { schema: object }>(route: T) {
  return { ...route, schema: { ...route.schema, response: { 200: Ack } } };
}
