/**
 * What differs between SQLite and PostgreSQL, said once. Code outside
 * `db/sqlite` and `db/postgres` asks these flags; it never tests the
 * dialect's name.
 */
import type { Kysely } from 'kysely';
import type { Database, Executor } from './schema.js';

export interface DialectCapabilities {
  /** `FOR UPDATE SKIP LOCKED`: many processes may claim queue rows concurrently. */
  readonly skipLocked: boolean;
  /** `LISTEN/NOTIFY`: a commit in one process can wake workers in others. */
  readonly listenNotify: boolean;
  /** More than one connection may write at once (SQLite has a single writer). */
  readonly concurrentWriters: boolean;
  /**
   * Data-modifying statements inside `WITH` (PostgreSQL), so a read and
   * writes that depend on it go in one statement, one round trip.
   */
  readonly writableCte: boolean;
}

/** Column type names used by migrations, so one migration source serves both dialects. */
export interface ColumnTypes {
  readonly id: 'text' | 'uuid';
  readonly text: 'text';
  readonly int: 'integer';
  /** Epoch milliseconds. */
  readonly timestamp: 'bigint';
  readonly bigint: 'bigint';
  readonly json: 'text';
  readonly bool: 'integer';
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  readonly capabilities: DialectCapabilities;
  readonly types: ColumnTypes;
  /**
   * Serializes migrations across processes. Called first thing inside the
   * migration transaction; the lock is released when it commits.
   */
  lockForMigration(trx: Executor): Promise<void>;
  /** True when an error means the database cannot be reached right now (answer 503). */
  isUnavailable(error: unknown): boolean;
  /** True when an error is a unique-constraint violation. */
  isUniqueViolation(error: unknown): boolean;
  /**
   * True when the database refused a value for what it is (PostgreSQL: a
   * NUL character in text, a number out of range), so the same write would
   * fail again; never for an unavailable database.
   */
  isDataError(error: unknown): boolean;
}

/** How a process means to use a database it opens. */
export interface OpenOptions {
  /**
   * A server process (API, worker) rather than a one-off command: worth
   * background machinery that only pays off over time (SQLite: WAL
   * checkpoints on a thread of their own).
   */
  readonly longRunning?: boolean;
  /**
   * Another thread's `DatabaseHandle.shared`: this handle then coordinates
   * with that one (SQLite: one writer at a time among the process's threads).
   */
  readonly shareWith?: unknown;
}

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Human-readable target without credentials, for logs. */
  readonly description: string;
  /**
   * SQLite only: the database file (`:memory:` for an in-memory database), so
   * features can keep a companion file beside it (the channel credentials key).
   * Undefined for a database server.
   */
  readonly localFile?: string | undefined;
  /**
   * What a worker thread of this process passes as `OpenOptions.shareWith`
   * to open the same database in step with this handle (structured-cloneable;
   * SQLite: the write lock's shared memory). Undefined when nothing is shared.
   */
  readonly shared?: unknown;
  close(): Promise<void>;
}
