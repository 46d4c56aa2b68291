/**
 * The SQLite driver's own machinery (src/db/sqlite): statements prepared
 * once, one writer at a time among handles that share the write lock
 * (waited for without blocking the event loop), and WAL checkpoints made
 * by the checkpointer thread instead of inside commits.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/dialect.js';
import { openSqlite } from '../src/db/sqlite/sqlite.js';
import { cachedStatements } from '../src/db/sqlite/statements.js';
import { WriteLock } from '../src/db/sqlite/write-lock.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('SQLite driver [sqlite]', () => {
  let dir: string;
  const handles: DatabaseHandle[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hookdesk-sqlite-driver-'));
  });
  afterEach(async () => {
    for (const h of handles.splice(0).reverse()) await h.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = (...args: Parameters<typeof openSqlite>) => {
    const h = openSqlite(...args);
    handles.push(h);
    return h;
  };

  it('prepares a statement once, prepares another while one is being iterated, and evicts the least recently used', () => {
    const native = new SqliteDatabase(':memory:');
    const stmts = cachedStatements(native, 2);
    const a = stmts.prepare('select 1 as x union all select 2');
    expect(stmts.prepare('select 1 as x union all select 2')).toBe(a);
    const rows = a.iterate();
    rows.next();
    const b = stmts.prepare('select 1 as x union all select 2');
    expect(b).not.toBe(a);
    expect(b.all()).toEqual([{ x: 1 }, { x: 2 }]);
    rows.return?.();
    const c = stmts.prepare('select 3');
    stmts.prepare('select 1 as x union all select 2'); // used again: c is now the oldest
    stmts.prepare('select 4');
    expect(stmts.prepare('select 1 as x union all select 2')).toBe(a);
    expect(stmts.prepare('select 3')).not.toBe(c);
    stmts.close();
    expect(native.open).toBe(false);
  });

  it('hands the write lock out first come, first served', async () => {
    const lock = new WriteLock();
    const order: string[] = [];
    await lock.acquire();
    const waiting = ['b', 'c', 'd'].map((name) =>
      lock.acquire().then(() => {
        order.push(name);
        lock.release();
      }),
    );
    await sleep(20);
    expect(order).toEqual([]);
    lock.release();
    await Promise.all(waiting);
    expect(order).toEqual(['b', 'c', 'd']);
  });

  it('a second handle sharing the lock waits for an open transaction without blocking the event loop', async () => {
    const file = join(dir, 'shared.db');
    const a = open(file);
    const b = open(file, { shareWith: a.shared });
    await sql`create table t (n integer)`.execute(a.db);
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 5);
    try {
      let bDone = false;
      let bStarted = false;
      const inA = a.db.transaction().execute(async (trx) => {
        await sql`insert into t values (1)`.execute(trx);
        // b writes while a holds SQLite's write lock across event-loop turns.
        bStarted = true;
        const write = sql`insert into t values (2)`.execute(b.db).then(() => (bDone = true));
        await sleep(150);
        expect(bDone).toBe(false);
        await sql`insert into t values (3)`.execute(trx);
        // Wrapped: returning the promise itself would make the transaction wait for b.
        return { write };
      });
      const { write } = await inA;
      await write;
      expect(bStarted).toBe(true);
      // Without the shared lock, b's insert blocks this thread in SQLite's busy
      // handler (a cannot commit meanwhile) and fails with SQLITE_BUSY after 5 s.
      expect(ticks).toBeGreaterThan(10);
      const rows = await sql<{ n: number }>`select n from t order by rowid`.execute(a.db);
      expect(rows.rows.map((r) => r.n)).toEqual([1, 3, 2]);
    } finally {
      clearInterval(ticker);
    }
  });

  it('a long-running handle leaves checkpoints to its thread: commits do not checkpoint, the thread does', async () => {
    const file = join(dir, 'wal.db');
    const h = open(file, { longRunning: true });
    const auto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(h.db);
    expect(auto.rows[0]?.wal_autocheckpoint).toBe(0);
    await sql`create table blobs (b blob)`.execute(h.db);
    const before = statSync(file).size;
    // About 2,500 pages: past the 1,000 at which a commit would checkpoint by itself.
    await h.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 2_500; i++)
        await sql`insert into blobs values (randomblob(4000))`.execute(trx);
    });
    const deadline = Date.now() + 5_000;
    let size = statSync(file).size;
    for (let i = 0; i < 100 && size < 8_000_000 && Date.now() < deadline; i++) {
      await sleep(50);
      size = statSync(file).size;
    }
    expect(before).toBeLessThan(100_000);
    expect(size).toBeGreaterThan(8_000_000);
  });

  it('creates a new database file, its -wal and its -shm readable by their owner only', async () => {
    // A common permissive umask, under which a file would otherwise be created 0644.
    const umask = process.umask(0o022);
    try {
      const file = join(dir, 'data', 'new.db');
      const h = open(file);
      await sql`create table t (n integer)`.execute(h.db);
      await sql`insert into t values (1)`.execute(h.db);
      for (const path of [file, `${file}-wal`, `${file}-shm`]) {
        expect((statSync(path).mode & 0o777).toString(8), path).toBe('600');
      }
      // A file that already exists keeps the mode its operator gave it.
      const existing = join(dir, 'existing.db');
      writeFileSync(existing, '', { mode: 0o640 });
      chmodSync(existing, 0o640);
      open(existing);
      expect((statSync(existing).mode & 0o777).toString(8)).toBe('640');
    } finally {
      process.umask(umask);
    }
  });
});
