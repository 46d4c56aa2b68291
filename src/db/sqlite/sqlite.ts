/**
 * SQLite: one embedded file, one writer. WAL lets readers run beside the
 * writer; `busy_timeout` makes a second process (say `hookdesk worker` next to
 * `hookdesk api`) wait for the write lock instead of failing.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, type Driver } from 'kysely';
import type { Dialect, DatabaseHandle, OpenOptions } from '../dialect.js';
import type { Database } from '../schema.js';
import { registerDialect } from '../registry.js';
import { BatchingSqliteDriver, type SqliteParts } from './batching-driver.js';
import { startCheckpointer } from './checkpointer.js';
import { cachedStatements } from './statements.js';
import { StorageGuard, probeWrite, storageFailure } from './storage.js';
import { WriteLock } from './write-lock.js';

class BatchingSqliteDialect extends SqliteDialect {
  constructor(private readonly parts: SqliteParts) {
    super({ database: parts.statements });
  }
  override createDriver(): Driver {
    return new BatchingSqliteDriver(this.parts);
  }
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  capabilities: {
    skipLocked: false,
    listenNotify: false,
    concurrentWriters: false,
    writableCte: false,
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
  // SQLite stores any text, NUL included: it refuses only a value past its size limit, or a
  // non-integer rowid.
  isDataError: (error) => {
    const code = (error as { code?: unknown } | null)?.code;
    return code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH';
  },
};

/**
 * Creates a missing database file with mode 0600 before SQLite opens it: it
 * holds webhook signing secrets and custom header values. SQLite gives the
 * -wal and -shm files it creates the database file's mode, so they follow.
 * An existing file keeps its mode (the operator's choice), and when the file
 * cannot be created here SQLite's own open reports why, as before.
 */
function createPrivately(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch {
    // EEXIST, or a failure SQLite is about to report in its own words.
  }
}

/**
 * Opens (creating if needed) the database file. A file that cannot be opened
 * or written (full disk, read-only file or directory) throws a one-line
 * `StorageError` here, before anything else runs.
 */
export function openSqlite(path: string, options: OpenOptions = {}): DatabaseHandle {
  const file = path === ':memory:' ? path : resolve(path);
  let native: SqliteDatabase.Database | null = null;
  try {
    if (file !== ':memory:') {
      mkdirSync(dirname(file), { recursive: true });
      createPrivately(file);
    }
    native = new SqliteDatabase(file);
    native.pragma('journal_mode = WAL');
    native.pragma('busy_timeout = 5000');
    native.pragma('foreign_keys = ON');
    native.pragma('synchronous = NORMAL');
    // Reads work on a read-only file; find out now, not at the first write. A
    // second connection of a process (shareWith) skips it: the first one has
    // checked, and storage failing since is for the guard to report, not a
    // reason to fail the open (the disk filling while serve's thread starts).
    const failure =
      file === ':memory:' || options.shareWith !== undefined ? null : probeWrite(native, file);
    if (failure) throw failure;
  } catch (error) {
    native?.close();
    throw storageFailure(file, error) ?? error;
  }
  const lock = new WriteLock(options.shareWith as SharedArrayBuffer | undefined);
  const db = new Kysely<Database>({
    dialect: new BatchingSqliteDialect({
      native,
      guard: new StorageGuard(native, file),
      lock,
      statements: cachedStatements(native),
    }),
  });
  registerDialect(db, sqliteDialect);
  const checkpointer =
    options.longRunning && file !== ':memory:' ? startCheckpointer(native, file) : null;
  return {
    db,
    dialect: sqliteDialect,
    description: `sqlite:${file}`,
    localFile: file,
    shared: lock.shared,
    close: async () => {
      // The thread's connection closes first, so the last one to close removes the WAL.
      await checkpointer?.close();
      await db.destroy();
    },
  };
}
