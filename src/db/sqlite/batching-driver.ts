/**
 * Kysely's driver for our one SQLite connection, with group commit.
 *
 * Committing is the dearest part of a write transaction here: SQLite appends
 * every page the transaction changed to the WAL, and a ticket with five
 * webhooks changes about 55 pages (the tables and each of their indexes),
 * ten for the ticket when ten tickets share a transaction: their rows land
 * on the same pages. Measured, COMMIT was a quarter of the API's CPU time
 * per ticket (bench/RESULTS.md). So transactions that queue for the
 * connection while one runs join it: the first opens a real transaction
 * (after the process's write lock, ./write-lock.ts; BEGIN IMMEDIATE, because
 * a deferred BEGIN that later writes can fail with SQLITE_BUSY when another
 * process wrote meanwhile, whereas IMMEDIATE waits for the lock up front), each
 * member runs inside a savepoint of its own (a member that fails rolls back
 * only its own work), and one COMMIT ends the batch. A member's commit
 * resolves only when that COMMIT has: nobody answers before its writes are
 * stored.
 *
 * A batch ends at the end of the event loop's turn it opened in (the
 * transactions of requests that arrived together join it), when it has
 * MAX_MEMBERS members, when it has been open MAX_OPEN_MS, or as soon as
 * another thread of the process (the delivery worker's, in `serve`) waits
 * for the write lock: measured, letting batches run on (or even 4 members,
 * 1 ms) made the worker wait a batch for each of its writes, and deliveries
 * fell hundreds of ms to seconds behind the tickets (bench/RESULTS.md). A statement outside a transaction that comes while
 * a batch is open runs inside it and is answered after its COMMIT too.
 */
import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import type { PreparingDatabase } from './statements.js';
import type { StorageGuard } from './storage.js';
import type { WriteLock } from './write-lock.js';

/** Members of one batch at most. */
const MAX_MEMBERS = 16;
/** A batch older than this takes no new member. */
const MAX_OPEN_MS = 5;
const MEMBER = 'hookdesk_member';

export interface SqliteParts {
  native: SqliteDatabase.Database;
  guard: StorageGuard;
  lock: WriteLock;
  statements: PreparingDatabase;
}

/** First come, first served, and it knows how many wait. */
class FifoMutex {
  private locked = false;
  private readonly queue: (() => void)[] = [];

  get waiting(): number {
    return this.queue.length;
  }

  lock(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  unlock(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.locked = false;
  }
}

/** An open BEGIN IMMEDIATE and the members waiting for its COMMIT. */
interface Batch {
  openedAt: number;
  members: number;
  committed: { resolve: () => void; reject: (error: unknown) => void }[];
  /** Why SQLite rolled the whole transaction back under a member, if it did. */
  lost: Error | null;
}

/**
 * One hold of the connection. Kysely hands it back to every call of the hold
 * (begin, statements, commit or rollback, release), which is how a member
 * that has handed the connection on is told apart from the next holder.
 */
class Hold implements DatabaseConnection {
  /** `member`: inside the batch, in its savepoint; `left`: committed or rolled back. */
  phase: 'outside' | 'member' | 'left' = 'outside';
  /** Gave the connection to the next transaction before its own commit was stored. */
  handedOn = false;

  constructor(private readonly driver: BatchingSqliteDriver) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute(query, this);
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Hookdesk does not stream SQLite results');
  }
}

export class BatchingSqliteDriver implements Driver {
  private readonly mutex = new FifoMutex();
  private batch: Batch | null = null;
  /** This connection holds the process's write lock: from BEGIN IMMEDIATE to the batch's end. */
  private holding = false;

  constructor(private readonly parts: SqliteParts) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.mutex.lock();
    return new Hold(this);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    if ((connection as Hold).handedOn) return;
    this.mutex.unlock();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const hold = connection as Hold;
    if (this.batch === null) {
      await this.parts.lock.acquire();
      this.holding = true;
      try {
        await this.run(hold, 'begin immediate');
      } catch (error) {
        this.releaseLock();
        throw error;
      }
      const opened: Batch = { openedAt: performance.now(), members: 0, committed: [], lost: null };
      this.batch = opened;
      // Statements run synchronously: a whole transaction takes one turn of the event loop,
      // and the requests that arrived with it have not reached the database yet. The batch
      // stays open to the end of this turn for them, then commits.
      setImmediate(() => void this.endInTurn(opened));
    }
    const batch = this.batch;
    await this.run(hold, `savepoint ${MEMBER}`);
    hold.phase = 'member';
    batch.members += 1;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const hold = connection as Hold;
    const batch = this.batch!;
    await this.run(hold, `release ${MEMBER}`);
    hold.phase = 'left';
    const stored = new Promise<void>((resolve, reject) =>
      batch.committed.push({ resolve, reject }),
    );
    await this.handOn(hold, batch);
    await stored;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const hold = connection as Hold;
    // Left already: its commit failed with the whole batch, and nothing of it remains.
    if (hold.phase !== 'member') return;
    const batch = this.batch!;
    // After SQLITE_FULL or an I/O error SQLite may have rolled everything back itself.
    if (this.parts.native.inTransaction) {
      try {
        await this.run(hold, `rollback to ${MEMBER}`);
        await this.run(hold, `release ${MEMBER}`);
      } catch (error) {
        // Its work cannot be taken out alone: the batch goes, and its members learn why.
        batch.lost = asError(error);
        await this.run(hold, 'rollback').catch(() => {});
      }
    }
    hold.phase = 'left';
    await this.handOn(hold, batch);
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.run(connection as Hold, `savepoint ${quoted(name)}`);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.run(connection as Hold, `rollback to ${quoted(name)}`);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.run(connection as Hold, `release ${quoted(name)}`);
  }

  async destroy(): Promise<void> {
    if (this.batch !== null) await this.endBatch();
    this.parts.statements.close();
  }

  /** The batch's end at the end of the turn it opened in, unless it has ended already. */
  private async endInTurn(batch: Batch): Promise<void> {
    await this.mutex.lock();
    try {
      if (this.batch === batch) await this.endBatch();
    } finally {
      this.mutex.unlock();
    }
  }

  /**
   * Leaves the batch open for the transactions still to come in this turn of
   * the event loop (`endInTurn` ends it then), or ends it now when it is full,
   * old, or lost.
   */
  private async handOn(hold: Hold, batch: Batch): Promise<void> {
    const joinable =
      // Another thread of the process waits for the write lock (the delivery worker, in
      // `serve`): it goes next, not after a whole batch of API requests.
      !this.parts.lock.contended &&
      batch.members < MAX_MEMBERS &&
      performance.now() - batch.openedAt < MAX_OPEN_MS &&
      this.parts.native.inTransaction;
    if (!joinable) {
      await this.endBatch();
      return;
    }
    hold.handedOn = true;
    this.mutex.unlock();
  }

  /** COMMIT, and every member learns how it went; never throws. */
  private async endBatch(): Promise<void> {
    const batch = this.batch!;
    this.batch = null;
    try {
      if (!this.parts.native.inTransaction) {
        throw batch.lost ?? new Error('SQLite rolled the transaction back');
      }
      await this.run(null, 'commit');
      for (const member of batch.committed) member.resolve();
    } catch (error) {
      // A failed COMMIT may leave the transaction open; nothing of it may stay.
      if (this.parts.native.inTransaction) await this.run(null, 'rollback').catch(() => {});
      for (const member of batch.committed) member.reject(error);
    } finally {
      this.releaseLock();
    }
  }

  private releaseLock(): void {
    if (!this.holding) return;
    this.holding = false;
    this.parts.lock.release();
  }

  private run(hold: Hold | null, sqlText: string): Promise<QueryResult<unknown>> {
    return this.execute(CompiledQuery.raw(sqlText), hold);
  }

  /**
   * A statement of a hold. Outside a transaction while a batch is open (the
   * API's reads between tickets, mostly) it runs inside the batch, like a
   * member of one statement, and its result is returned once the batch is
   * committed: nothing is answered from writes that are not stored yet.
   */
  async execute<R>(query: CompiledQuery, hold: Hold | null): Promise<QueryResult<R>> {
    if (hold?.handedOn) throw new Error('a SQLite connection was used after it was handed on');
    const batch = this.batch;
    if (batch === null || hold === null || hold.phase !== 'outside' || opensBatch(query)) {
      return this.statement<R>(query);
    }
    batch.members += 1;
    hold.phase = 'left';
    const stored = new Promise<void>((resolve, reject) =>
      batch.committed.push({ resolve, reject }),
    );
    try {
      const result = await this.statement<R>(query);
      await this.handOn(hold, batch);
      await stored;
      return result;
    } catch (error) {
      stored.catch(() => {});
      if (this.batch === batch && !hold.handedOn) await this.handOn(hold, batch);
      throw error;
    }
  }

  /**
   * One statement through the storage guard (./storage.ts); a write outside
   * any transaction takes its turn at the process's write lock.
   */
  private async statement<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { guard, lock, statements, native } = this.parts;
    if (guard.alreadyRolledBack(query.sql)) return { rows: [] };
    guard.before(query.sql);
    let locked = false;
    try {
      const stmt = statements.prepare(query.sql);
      if (!this.holding && !stmt.readonly) {
        await lock.acquire();
        locked = true;
      }
      const parameters = query.parameters as unknown[];
      if (stmt.reader) return { rows: stmt.all(parameters) as R[] };
      const { changes, lastInsertRowid } = stmt.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    } catch (error) {
      const failure = guard.failed(error);
      if (this.batch !== null && !native.inTransaction) this.batch.lost = asError(failure);
      throw failure;
    } finally {
      if (locked) lock.release();
    }
  }
}

/** BEGIN IMMEDIATE and the member's SAVEPOINT: how a holder opens or joins a batch. */
function opensBatch(query: CompiledQuery): boolean {
  return query.sql === 'begin immediate' || query.sql === `savepoint ${MEMBER}`;
}

function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
