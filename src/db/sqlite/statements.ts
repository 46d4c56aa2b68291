/**
 * Prepared statements kept by SQL text. Kysely's SQLite driver prepares every
 * statement on every execution; preparing was 6–12 % of the worker's and the
 * API's CPU time in the benchmarks (bench/RESULTS.md). Kysely compiles the
 * same builder to the same text, so a small cache catches nearly all of it.
 */
import type SqliteDatabase from 'better-sqlite3';

/** Distinct statements kept; `in (?, ?, …)` lists of varying length make a few extra. */
const CAPACITY = 500;

/** What Kysely's SqliteDialect needs of a database: `prepare` and `close`. */
export interface PreparingDatabase {
  prepare(sql: string): SqliteDatabase.Statement;
  close(): void;
}

export function cachedStatements(
  native: SqliteDatabase.Database,
  capacity = CAPACITY,
): PreparingDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sql) {
      const hit = cache.get(sql);
      // A statement being iterated cannot run again until it finishes: prepare another.
      if (hit !== undefined && !hit.busy) {
        // Least recently used goes first: move the hit to the end.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = native.prepare(sql);
      if (hit === undefined) {
        cache.set(sql, stmt);
        if (cache.size > capacity) cache.delete(cache.keys().next().value!);
      }
      return stmt;
    },
    close() {
      cache.clear();
      native.close();
    },
  };
}
