/**
 * SQLite: one embedded file, one writer. WAL lets readers run beside the
 * writer; `busy_timeout` makes a second process (say `hookdesk worker` next to
 * `hookdesk api`) wait for the write lock instead of failing.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
} from 'kysely';
import type { Dialect, DatabaseHandle } from '../dialect.js';
import type { Database } from '../schema.js';
import { registerDialect } from '../registry.js';

/**
 * Transactions start with BEGIN IMMEDIATE: a deferred BEGIN that later
 * writes can fail with SQLITE_BUSY when another process wrote meanwhile,
 * whereas IMMEDIATE takes the write lock up front and waits for it.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly cfg: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(cfg);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.cfg);
  }
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  capabilities: { skipLocked: false, listenNotify: false, concurrentWriters: false },
  types: {
    id: 'text',
    text: 'text',
    int: 'integer',
    timestamp: 'bigint',
    bigint: 'bigint',
    json: 'text',
    bool: 'integer',
  },
  // BEGIN IMMEDIATE already holds the database-wide write lock.
  lockForMigration: async () => {},
  isUnavailable: (error) => {
    const code = (error as { code?: unknown } | null)?.code;
    return (
      code === 'SQLITE_BUSY' ||
      code === 'SQLITE_CANTOPEN' ||
      code === 'SQLITE_FULL' ||
      code === 'SQLITE_READONLY'
    );
  },
  isUniqueViolation: (error) => {
    const code = (error as { code?: unknown } | null)?.code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  },
};

export function openSqlite(path: string): DatabaseHandle {
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const native = new SqliteDatabase(file);
  native.pragma('journal_mode = WAL');
  native.pragma('busy_timeout = 5000');
  native.pragma('foreign_keys = ON');
  native.pragma('synchronous = NORMAL');
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: native }) });
  registerDialect(db, sqliteDialect);
  return {
    db,
    dialect: sqliteDialect,
    description: `sqlite:${file}`,
    close: () => db.destroy(),
  };
}
