/**
 * Group commit on SQLite (src/db/sqlite/batching-driver.ts): transactions
 * that come in the same turn of the event loop share one COMMIT, each in a
 * savepoint of its own. What must hold: a transaction's promise resolves
 * only once its rows are stored (another connection sees them), a failing
 * member takes only its own rows with it, a statement outside a transaction
 * is answered after the batch it ran in is committed, and the batch really
 * writes fewer WAL frames than one commit per transaction would.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/dialect.js';
import { openSqlite } from '../src/db/sqlite/sqlite.js';

/** Frames in a WAL file: a 32-byte header, then (24-byte header + page) per frame. */
function walFrames(file: string): number {
  const wal = readFileSync(`${file}-wal`);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  return Math.floor((wal.length - 32) / (24 + pageSize));
}

describe('SQLite group commit [sqlite]', () => {
  let dir: string;
  let file: string;
  let handle: DatabaseHandle;
  let other: SqliteDatabase.Database;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookdesk-group-commit-'));
    file = join(dir, 'db.sqlite');
    handle = openSqlite(file);
    await sql`create table rows (id integer primary key, who text not null unique)`.execute(
      handle.db,
    );
    other = new SqliteDatabase(file, { readonly: true });
  });
  afterEach(async () => {
    other.close();
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stored = () =>
    (other.prepare('select who from rows order by who').all() as { who: string }[]).map(
      (r) => r.who,
    );
  const insert = (who: string) =>
    handle.db.transaction().execute(async (trx) => {
      await sql`insert into rows (who) values (${who})`.execute(trx);
      return who;
    });

  it('resolves each transaction of a batch only once another connection sees its rows', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const seen = await Promise.all(
      names.map((who) => insert(who).then(() => stored().includes(who))),
    );
    expect(seen).toEqual(names.map(() => true));
    expect(stored()).toEqual(names);
  });

  it('rolls back only the member that failed; the others of its batch are stored', async () => {
    const results = await Promise.allSettled([
      insert('a'),
      handle.db.transaction().execute(async (trx) => {
        await sql`insert into rows (who) values ('b')`.execute(trx);
        throw new Error('changed my mind');
      }),
      insert('c'),
      // A unique violation fails inside its member's savepoint.
      handle.db.transaction().execute(async (trx) => {
        await sql`insert into rows (who) values ('d')`.execute(trx);
        await sql`insert into rows (who) values ('a')`.execute(trx);
      }),
      insert('e'),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(stored()).toEqual(['a', 'c', 'e']);
  });

  it('answers a statement outside a transaction after the batch it ran in is committed', async () => {
    const pending = insert('x');
    // Issued in the same turn: it runs inside the open batch and sees 'x'…
    const read = sql<{ n: number }>`select count(*) as n from rows where who = 'x'`
      .execute(handle.db)
      .then((r) => ({ n: r.rows[0]!.n, storedThen: stored().includes('x') }));
    // …and is answered only when 'x' is stored for everyone.
    expect(await read).toEqual({ n: 1, storedThen: true });
    await pending;
  });

  it('writes far fewer WAL frames for transactions that share a commit', async () => {
    await sql`pragma wal_checkpoint(truncate)`.execute(handle.db);
    await insert('alone');
    const one = walFrames(file);
    expect(one).toBeGreaterThan(0);
    await sql`pragma wal_checkpoint(truncate)`.execute(handle.db);
    await Promise.all(Array.from({ length: 16 }, (_, i) => insert(`many-${i}`)));
    // One commit per transaction would write `one` frames 16 times.
    expect(walFrames(file)).toBeLessThanOrEqual(one * 2);
  });

  it('keeps working after a batch, transactions in later turns start new batches', async () => {
    await insert('first');
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([insert('second'), insert('third')]);
    await insert('fourth');
    expect(stored()).toEqual(['first', 'fourth', 'second', 'third']);
  });
});
