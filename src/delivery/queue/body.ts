/**
 * Where a delivery's request body lives. Every webhook of an event is sent
 * the same bytes, so an event's deliveries store none of their own
 * (`payload = ''`, `EVENT_BODY`) and read the event's `payload`: one copy per
 * event instead of one per webhook (with 20 webhooks, 20 fewer copies of a
 * ~700-byte body to write, and narrower rows for the queue to rewrite on
 * every status change; bench/RESULTS.md). A delivery without an event row of
 * its own (`webhook.test`) keeps its body inline. An empty string is never a
 * body we send: every body is a JSON object.
 *
 * Read a body only through `deliveryBody`.
 */
import { sql, type RawBuilder } from 'kysely';

/** The `payload` of a delivery whose body is its event's. */
export const EVENT_BODY = '';

/**
 * The body of the `deliveries` row named `table` (its name or alias in the
 * statement), as SQL: its own payload, or else its event's.
 */
export function deliveryBody(table = 'deliveries'): RawBuilder<string> {
  const own = sql.ref(`${table}.payload`);
  return sql<string>`case when ${own} = ${sql.lit(EVENT_BODY)}
    then (select e.payload from events e where e.id = ${sql.ref(`${table}.event_id`)})
    else ${own} end`;
}
