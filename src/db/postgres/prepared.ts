/**
 * Named prepared statements for the statements a process runs again and
 * again. Kysely sends every statement unnamed, so PostgreSQL parses and
 * analyses its text on every execution; named, a connection parses it once
 * (bench/RESULTS.md). A text is named from its REPEAT_BEFORE_NAMING-th use on
 * a connection, so one-off texts (an `in (…)` list of a length seen once)
 * never take a name, and a connection names at most MAX_NAMED texts: the
 * server keeps each for the connection's life.
 */
import type pg from 'pg';

const REPEAT_BEFORE_NAMING = 3;
const MAX_NAMED = 256;
/** Texts counted but not named yet, per connection; forgotten when full. */
const MAX_COUNTED = 2048;

type QueryFn = (text: unknown, values?: unknown, callback?: unknown) => unknown;

export function nameRepeatedStatements(client: pg.PoolClient): void {
  const named = new Map<string, string>();
  const seen = new Map<string, number>();
  const query = client.query.bind(client) as QueryFn;
  (client as unknown as { query: QueryFn }).query = (text, values, callback) => {
    // Kysely's shape: (text, values). Anything else (parameterless, config objects) as is.
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0) {
      return query(text, values, callback);
    }
    let name = named.get(text);
    if (name === undefined && named.size < MAX_NAMED) {
      const count = (seen.get(text) ?? 0) + 1;
      if (count >= REPEAT_BEFORE_NAMING) {
        name = `hookdesk_${named.size + 1}`;
        named.set(text, name);
        seen.delete(text);
      } else {
        if (seen.size >= MAX_COUNTED) seen.clear();
        seen.set(text, count);
      }
    }
    return name === undefined
      ? query(text, values, callback)
      : query({ name, text, values }, undefined, callback);
  };
}
