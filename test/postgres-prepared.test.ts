/**
 * Named prepared statements on PostgreSQL (src/db/postgres/prepared.ts): a
 * statement text a connection runs again and again is parsed once, under a
 * name; a text seen once or twice stays unnamed, and results are the same
 * either way.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/dialect.js';
import { openPostgres } from '../src/db/postgres/postgres.js';
import { openTestDatabase } from './support/harness.js';

describe.skipIf(!inject('pgTemplate'))('named prepared statements [postgres]', () => {
  let dispose: () => Promise<void>;
  let one: DatabaseHandle;

  beforeAll(async () => {
    const opened = await openTestDatabase('postgres');
    dispose = opened.dispose;
    await opened.handle.close();
    // One connection, so every statement below runs in the same session.
    one = openPostgres(opened.url, { poolSize: 1 });
  });
  afterAll(async () => {
    await one?.close();
    await dispose?.();
  });

  const prepared = async () =>
    (
      await sql<{
        name: string;
        statement: string;
      }>`select name, statement from pg_prepared_statements order by name`.execute(one.db)
    ).rows;

  it('names a text from its third use on a connection and gives the same results', async () => {
    const add = (n: number) => sql<{ x: number }>`select ${n}::int + 1 as x`.execute(one.db);
    expect((await add(1)).rows).toEqual([{ x: 2 }]);
    expect((await add(2)).rows).toEqual([{ x: 3 }]);
    expect((await prepared()).filter((p) => p.statement.includes('+ 1 as x'))).toEqual([]);
    for (let n = 3; n <= 6; n++) expect((await add(n)).rows).toEqual([{ x: n + 1 }]);
    const named = (await prepared()).filter((p) => p.statement.includes('+ 1 as x'));
    expect(named).toHaveLength(1);
    expect(named[0]!.name).toMatch(/^hookdesk_\d+$/);
  });

  it('leaves texts seen once unnamed, and statements without parameters alone', async () => {
    const before = (await prepared()).length;
    for (let n = 0; n < 5; n++) {
      await sql`select ${n}::int as ${sql.ref(`once_${n}`)}`.execute(one.db);
      await sql`select 1 as plain`.execute(one.db);
    }
    expect((await prepared()).length).toBe(before);
  });
});
