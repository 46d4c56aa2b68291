/**
 * Applies pending migrations in one transaction that first takes a
 * cross-process lock (an advisory lock on PostgreSQL; the write lock of
 * BEGIN IMMEDIATE on SQLite). Processes starting together on one database
 * queue behind the lock; the second finds nothing left to do.
 *
 * Kysely's Migrator is not used because on SQLite it takes no lock across
 * processes, and because the first-start bootstrap must run under the same
 * lock (two processes must not both create a default organization).
 */
import { sql } from 'kysely';
import type { DatabaseHandle } from './dialect.js';
import type { Executor } from './schema.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';
import type { Clock } from '../clock.js';

const TABLE = 'hookdesk_migrations';

export interface MigrateResult {
  /** Names of migrations applied by this call, in order. */
  applied: string[];
}

/**
 * Runs `afterMigrate` inside the same locked transaction, for work that must
 * happen exactly once per database (bootstrap).
 */
export async function migrate(
  handle: DatabaseHandle,
  clock: Clock,
  afterMigrate?: (trx: Executor) => Promise<void>,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrateResult> {
  const { db, dialect } = handle;
  return db.transaction().execute(async (trx) => {
    await dialect.lockForMigration(trx);
    await trx.schema
      .createTable(TABLE)
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', 'bigint', (c) => c.notNull())
      .execute();
    const rows = await sql<{ name: string }>`select name from ${sql.table(TABLE)}`.execute(trx);
    const done = new Set(rows.rows.map((r) => r.name));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.name)) continue;
      await m.up(trx, dialect.types);
      await sql`insert into ${sql.table(TABLE)} (name, applied_at) values (${m.name}, ${clock.now()})`.execute(
        trx,
      );
      applied.push(m.name);
    }
    if (afterMigrate) await afterMigrate(trx);
    return { applied };
  });
}
