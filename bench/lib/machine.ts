/** The machine a run happened on, for bench/RESULTS.md. */
import { cpus, loadavg, totalmem, release } from 'node:os';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';

export interface Machine {
  cores: number;
  cpu: string;
  memoryGb: number;
  node: string;
  os: string;
  sqlite: string;
  postgres: string | null;
}

export async function describeMachine(postgresUrl: string | undefined): Promise<Machine> {
  const mem = new SqliteDatabase(':memory:');
  const sqlite = (mem.prepare('select sqlite_version() as v').get() as { v: string }).v;
  mem.close();
  let postgres: string | null = null;
  if (postgresUrl) {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const r = await client.query<{ server_version: string }>('show server_version');
      postgres = r.rows[0]?.server_version ?? null;
    } finally {
      await client.end();
    }
  }
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
    sqlite,
    postgres,
  };
}

export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}
