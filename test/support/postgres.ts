/**
 * PostgreSQL for tests. CI gives HOOKDESK_TEST_POSTGRES_URL (see .ci/run);
 * each test suite gets its own database cloned from a template migrated once
 * per run, so suites never see each other's rows.
 */
import pg from 'pg';

export const PG_ENV = 'HOOKDESK_TEST_POSTGRES_URL';

export function adminUrl(): string | undefined {
  const v = process.env[PG_ENV];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Names are unique per run and safe to interpolate (letters, digits, underscores). */
export function uniqueDbName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
