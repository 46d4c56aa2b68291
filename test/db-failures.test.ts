/**
 * Regression tests, in the main suite, for what the fault suite
 * (test/faults) found in the storage layer; the fault suite exercises them
 * for real (a full tmpfs, read-only files, a restarted PostgreSQL):
 *
 * - SQLite: a storage failure (here a real SQLITE_FULL from `max_page_count`)
 *   is a one-line StorageError answered 503; afterwards every statement,
 *   reads included (so /readyz), fails fast until a probe write succeeds,
 *   at most once a second; then statements run again.
 * - PostgreSQL: a checked-out connection whose server session dies must not
 *   crash the process (pg emits 'error' on the client, and pg-pool leaves a
 *   checked-out client without a listener); the query fails as "unavailable"
 *   and the pool goes on with a new connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { DatabaseHandle } from '../src/db/dialect.js';
import { openPostgres, postgresDialect } from '../src/db/postgres/postgres.js';
import { openSqlite, sqliteDialect } from '../src/db/sqlite/sqlite.js';
import { storageFailure } from '../src/db/sqlite/storage.js';
import { StorageError } from '../src/db/storage-error.js';
import { openTestDatabase } from './support/harness.js';

describe('SQLite storage failures [sqlite]', () => {
  let dir: string;
  let file: string;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookdesk-dbfail-'));
    file = join(dir, 'x.db');
    handle = openSqlite(file);
    await sql`create table blobs (id integer primary key, body text not null)`.execute(handle.db);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    try {
      await handle?.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the problem in one line and keeps the code, so it answers 503', () => {
    const full = storageFailure(file, Object.assign(new Error('x'), { code: 'SQLITE_FULL' }));
    expect(full).toBeInstanceOf(StorageError);
    expect(full!.message).toBe(
      `SQLite database ${file}: disk full: no space left on the device (SQLITE_FULL)`,
    );
    const missing = join(dir, 'nope', 'x.db');
    expect(
      storageFailure(missing, Object.assign(new Error('x'), { code: 'SQLITE_CANTOPEN' }))!.message,
    ).toContain(`its directory ${join(dir, 'nope')} does not exist`);
    expect(
      storageFailure(file, Object.assign(new Error('x'), { code: 'SQLITE_READONLY_DBMOVED' }))!
        .message,
    ).toContain('database is read-only');
    expect(storageFailure(file, Object.assign(new Error('x'), { code: 'SQLITE_BUSY' }))).toBeNull();
    expect(storageFailure(file, new Error('syntax'))).toBeNull();
    for (const code of [
      'SQLITE_FULL',
      'SQLITE_IOERR_WRITE',
      'SQLITE_READONLY_DBMOVED',
      'SQLITE_BUSY',
    ])
      expect(sqliteDialect.isUnavailable({ code }), code).toBe(true);
    expect(sqliteDialect.isUnavailable({ code: 'SQLITE_CONSTRAINT_UNIQUE' })).toBe(false);
    expect(sqliteDialect.isUnavailable(full)).toBe(true);
  });

  it('after SQLITE_FULL every statement fails fast until a probe write works again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { db } = handle;
    const pages = (await sql<{ page_count: number }>`pragma page_count`.execute(db)).rows[0]!;
    await sql.raw(`pragma max_page_count = ${pages.page_count}`).execute(db);
    const insert = () =>
      db
        .transaction()
        .execute((trx) =>
          sql`insert into blobs (body) values (${'x'.repeat(100_000)})`.execute(trx),
        );

    const error = await insert().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('SQLITE_FULL');
    expect((error as StorageError).message).toMatch(/^SQLite database \S+: disk full/);
    expect(sqliteDialect.isUnavailable(error)).toBe(true);
    // A read now fails too (that is what makes /readyz answer 503), with the same one line.
    await expect(sql`select 1`.execute(db)).rejects.toThrow(/disk full/);

    // Within the second after the failure nothing is tried again: still failing.
    vi.setSystemTime(Date.now() + 500);
    await expect(sql`select 1`.execute(db)).rejects.toBeInstanceOf(StorageError);
    // Then a probe write (it needs no new page) succeeds, and statements run again, no reopening.
    vi.setSystemTime(Date.now() + 1_000);
    await sql`select 1`.execute(db);
    await sql.raw('pragma max_page_count = 1073741823').execute(db);
    await insert();
    const n = await sql<{ n: number }>`select count(*) as n from blobs`.execute(db);
    expect(n.rows[0]!.n).toBe(1);
  });
});

describe.skipIf(!inject('pgTemplate'))('a lost PostgreSQL session [postgres]', () => {
  let opened: Awaited<ReturnType<typeof openTestDatabase>>;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    opened = await openTestDatabase('postgres');
    handle = openPostgres(opened.url, { poolSize: 2 });
  });
  afterAll(async () => {
    await handle?.close();
    await opened?.dispose();
  });

  it('does not crash the process: the query fails as unavailable and the pool carries on', async () => {
    const error = await handle.db
      .transaction()
      .execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
        // Another session ends this one while it sits idle in its transaction: pg then
        // emits 'error' on a client the pool has checked out (this crashed the process).
        await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(opened.handle.db);
        await new Promise((r) => setTimeout(r, 300));
        await sql`select 1`.execute(trx);
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).not.toBeNull();
    expect(postgresDialect.isUnavailable(error), String(error)).toBe(true);
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(handle.db);
    expect(rows[0]!.one).toBe(1);
  });
});
