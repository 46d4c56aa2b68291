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
  type QueryResult,
} from 'kysely';
import type { Dialect, DatabaseHandle } from '../dialect.js';
import type { Database } from '../schema.js';
import { registerDialect } from '../registry.js';
import { StorageGuard, probeWrite, storageFailure } from './storage.js';

/**
 * Transactions start with BEGIN IMMEDIATE: a deferred BEGIN that later
 * writes can fail with SQLITE_BUSY when another process wrote meanwhile,
 * whereas IMMEDIATE takes the write lock up front and waits for it.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  private guarded: DatabaseConnection | null = null;

  constructor(
    cfg: ConstructorParameters<typeof SqliteDriver>[0],
    private readonly guard: StorageGuard,
  ) {
    super(cfg);
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /** The single connection, with every statement passed through the storage guard (./storage.ts). */
  override async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await super.acquireConnection();
    const guard = this.guard;
    this.guarded ??= {
      async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        if (guard.alreadyRolledBack(query.sql)) return { rows: [] };
        guard.before(query.sql);
        try {
          return await inner.executeQuery(query);
        } catch (error) {
          throw guard.failed(error);
        }
      },
      streamQuery: (query, chunkSize) => inner.streamQuery(query, chunkSize),
    };
    return this.guarded;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(
    private readonly cfg: ConstructorParameters<typeof SqliteDialect>[0],
    private readonly guard: StorageGuard,
  ) {
    super(cfg);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.cfg, this.guard);
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
  // Extended codes too (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE, …): all mean "not now", not "bad request".
  isUnavailable: (error) => {
    const code = (error as { code?: unknown } | null)?.code;
    return (
      typeof code === 'string' && /^SQLITE_(BUSY|CANTOPEN|FULL|READONLY|IOERR)(_|$)/.test(code)
    );
  },
  isUniqueViolation: (error) => {
    const code = (error as { code?: unknown } | null)?.code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  },
};

/**
 * Opens (creating if needed) the database file. A file that cannot be opened
 * or written (full disk, read-only file or directory) throws a one-line
 * `StorageError` here, before anything else runs.
 */
export function openSqlite(path: string): DatabaseHandle {
  const file = path === ':memory:' ? path : resolve(path);
  let native: SqliteDatabase.Database | null = null;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    native = new SqliteDatabase(file);
    native.pragma('journal_mode = WAL');
    native.pragma('busy_timeout = 5000');
    native.pragma('foreign_keys = ON');
    native.pragma('synchronous = NORMAL');
    // Reads work on a read-only file; find out now, not at the first write.
    const failure = file === ':memory:' ? null : probeWrite(native, file);
    if (failure) throw failure;
  } catch (error) {
    native?.close();
    throw storageFailure(file, error) ?? error;
  }
  const guard = new StorageGuard(native, file);
  const db = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({ database: native }, guard),
  });
  registerDialect(db, sqliteDialect);
  return {
    db,
    dialect: sqliteDialect,
    description: `sqlite:${file}`,
    localFile: file,
    close: () => db.destroy(),
  };
}
