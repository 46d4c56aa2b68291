/**
 * PostgreSQL: many API and worker processes share one database. Claims use
 * `FOR UPDATE SKIP LOCKED`; commits wake other processes with NOTIFY.
 */
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Dialect, DatabaseHandle } from '../dialect.js';
import type { Database } from '../schema.js';
import { nameRepeatedStatements } from './prepared.js';
import { registerDialect } from '../registry.js';

/** Arbitrary constant shared by every Hookdesk process: the migration advisory lock. */
const MIGRATION_LOCK_KEY = 727_001;

// SQLSTATE classes that mean "the server is not there right now".
const UNAVAILABLE_SQLSTATE = /^(08|57P0[123]|53300)/;
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export const postgresDialect: Dialect = {
  name: 'postgres',
  capabilities: {
    skipLocked: true,
    listenNotify: true,
    concurrentWriters: true,
    writableCte: true,
  },
  types: {
    id: 'text',
    text: 'text',
    int: 'integer',
    timestamp: 'bigint',
    bigint: 'bigint',
    json: 'text',
    bool: 'integer',
  },
  lockForMigration: async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
  },
  isUnavailable: (error) => {
    const e = error as { code?: unknown; message?: unknown } | null;
    if (
      typeof e?.code === 'string' &&
      (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_NODE_CODES.has(e.code))
    ) {
      return true;
    }
    return (
      typeof e?.message === 'string' &&
      // pg's wording for a lost socket, a pool that cannot connect, and a client whose
      // connection already broke (the next query on it fails with the last message).
      /Connection terminated|timeout exceeded when trying to connect|encountered a connection error and is not queryable/i.test(
        e.message,
      )
    );
  },
  isUniqueViolation: (error) => (error as { code?: unknown } | null)?.code === '23505',
  // SQLSTATE class 22, "data exception": 22021 for a NUL in text, 22003 out of range, …
  isDataError: (error) => {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
  },
};

// BIGINT holds epoch milliseconds and counts: well inside Number's safe range.
const parseBigint = (v: string): number => Number(v);
const typeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === 20
    ? parseBigint
    : (pg.types.getTypeParser(oid, format ?? 'text') as unknown)) as typeof pg.types.getTypeParser;

export function openPostgres(url: string, options: { poolSize?: number } = {}): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    // BIGINT holds epoch milliseconds and counts: well inside Number's safe range.
    types: { getTypeParser: typeParser },
  });
  // An idle client losing its server (restart) emits here; without a listener it would crash the process.
  pool.on('error', () => {});
  // A checked-out client has no pool listener (pg-pool removes it on acquire), yet pg emits
  // 'error' on it when its socket dies, even mid-query: unhandled, that killed the process when
  // PostgreSQL restarted (test/faults/postgres-restart). The query in progress fails on its own
  // and pg-pool discards the broken client on release, so the event needs no handling.
  // Each connection also parses the statements it repeats only once (./prepared.ts).
  pool.on('connect', (client) => {
    client.on('error', () => {});
    nameRepeatedStatements(client);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const u = new URL(url);
  registerDialect(db, postgresDialect);
  return {
    db,
    dialect: postgresDialect,
    description: `postgres://${u.host}${u.pathname}`,
    close: () => db.destroy(),
  };
}
