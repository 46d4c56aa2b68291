/**
 * Migrations run under a cross-process lock: processes started together on
 * one database all come up, the schema is applied once, and exactly one
 * default organization is bootstrapped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { migrate } from '../src/db/migrate.js';
import { MIGRATIONS } from '../src/db/migrations/index.js';
import { openDatabase } from '../src/db/open.js';
import { freePort, runCli, startCli, stop, waitForOk } from './support/cli.js';
import { adminQuery, adminUrl, uniqueDbName, withDatabase } from './support/postgres.js';

async function countRows(
  url: string,
): Promise<{ migrations: number; organizations: number; tables: number }> {
  const handle = openDatabase(url);
  try {
    const m = await handle.db
      .selectFrom('hookdesk_migrations' as never)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const o = await handle.db
      .selectFrom('organizations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const tables = (await handle.db.introspection.getTables()).length;
    return { migrations: Number(m.n), organizations: Number(o.n), tables };
  } finally {
    await handle.close();
  }
}

describe('migrations', () => {
  it('a second run applies nothing [sqlite]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookdesk-mig-'));
    try {
      const handle = openDatabase(`sqlite:${join(dir, 'a.db')}`);
      const first = await migrate(handle, new ManualClock());
      expect(first.applied).toEqual(MIGRATIONS.map((m) => m.name));
      expect((await migrate(handle, new ManualClock())).applied).toEqual([]);
      await handle.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('0007 makes the queue indexes of an existing database partial [sqlite]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookdesk-mig-'));
    try {
      const handle = openDatabase(`sqlite:${join(dir, 'up.db')}`);
      const at = MIGRATIONS.findIndex((m) => m.name === '0007_queue_indexes');
      const before = MIGRATIONS.slice(0, at);
      await migrate(handle, new ManualClock(), undefined, before);
      const indexSql = async () => {
        const r = await sql<{ name: string; sql: string | null }>`
          select name, sql from sqlite_master where tbl_name = 'deliveries'`.execute(handle.db);
        return Object.fromEntries(r.rows.map((row) => [row.name, row.sql ?? '']));
      };
      expect((await indexSql()).deliveries_due_idx).not.toContain('where');
      expect((await migrate(handle, new ManualClock())).applied).toEqual(
        MIGRATIONS.slice(at).map((m) => m.name),
      );
      const after = await indexSql();
      expect(after.deliveries_due_idx).toContain(`where "status" = 'pending'`);
      expect(after.deliveries_lease_idx).toContain(`where "status" = 'delivering'`);
      expect(after.deliveries_completed_idx).toContain(`where "completed_at" is not null`);
      await handle.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('three processes migrating one SQLite file at once all succeed [sqlite]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookdesk-mig-'));
    const url = `sqlite:${join(dir, 'race.db')}`;
    try {
      const results = await Promise.all(
        [1, 2, 3].map(() => runCli(['migrate'], { DATABASE_URL: url })),
      );
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      expect(results.filter((r) => r.stdout.includes('Applied: 0001_core'))).toHaveLength(1);
      const counts = await countRows(url);
      expect(counts.migrations).toBe(MIGRATIONS.length);
      expect(counts.organizations).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const pgAdmin = adminUrl();
  describe.skipIf(!inject('pgTemplate'))('on PostgreSQL', () => {
    it('two API processes starting at once on an empty database both come up [postgres]', async () => {
      const name = uniqueDbName('hdmig');
      await adminQuery(pgAdmin!, `create database ${name}`);
      const url = withDatabase(pgAdmin!, name);
      const ports = [await freePort(), await freePort()];
      const children = ports.map((port) =>
        startCli(['api'], { DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1' }),
      );
      const stderr = ['', ''];
      children.forEach((c, i) => c.stderr?.on('data', (d: Buffer) => (stderr[i] += d.toString())));
      try {
        const ready = await Promise.all(
          ports.map((p) => waitForOk(`http://127.0.0.1:${p}/readyz`)),
        );
        expect(ready, stderr.join('\n')).toEqual([true, true]);
        const counts = await countRows(url);
        expect(counts.migrations).toBe(MIGRATIONS.length);
        expect(counts.organizations).toBe(1);
        // Exactly one of the two created (and announced) the default organization.
        expect(stderr.filter((s) => s.includes('Created the default organization'))).toHaveLength(
          1,
        );
      } finally {
        await Promise.all(children.map(stop));
        await adminQuery(pgAdmin!, `drop database if exists ${name} with (force)`);
      }
    });

    it('five concurrent migrate runs apply each migration once [postgres]', async () => {
      const name = uniqueDbName('hdmig');
      await adminQuery(pgAdmin!, `create database ${name}`);
      const url = withDatabase(pgAdmin!, name);
      try {
        const handles = [1, 2, 3, 4, 5].map(() => openDatabase(url));
        const results = await Promise.all(handles.map((h) => migrate(h, new ManualClock())));
        await Promise.all(handles.map((h) => h.close()));
        expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
        expect((await countRows(url)).migrations).toBe(MIGRATIONS.length);
      } finally {
        await adminQuery(pgAdmin!, `drop database if exists ${name} with (force)`);
      }
    });
  });
});
