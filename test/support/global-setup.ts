/**
 * Once per test run: decide whether the PostgreSQL half runs, and migrate its
 * template database. In CI a missing PostgreSQL fails the run; elsewhere it is
 * skipped with one line saying so.
 */
import type { TestProject } from 'vitest/node';
import { ManualClock } from '../../src/clock.js';
import { migrate } from '../../src/db/migrate.js';
import { openPostgres } from '../../src/db/postgres/postgres.js';
import { PG_ENV, adminQuery, adminUrl, uniqueDbName, withDatabase } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Template database to clone per suite, or null when PostgreSQL tests are skipped. */
    pgTemplate: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = adminUrl();
  if (!url) {
    if (process.env.CI === 'true' || process.env.CI === '1') {
      throw new Error(
        `${PG_ENV} is not set: in CI every storage test must also run on PostgreSQL.`,
      );
    }
    process.stdout.write(`PostgreSQL tests skipped: ${PG_ENV} is not set (only SQLite runs).\n`);
    project.provide('pgTemplate', null);
    return async () => {};
  }
  const template = uniqueDbName('hdtpl');
  try {
    await adminQuery(url, `create database ${template}`);
  } catch (error) {
    throw new Error(`Cannot reach PostgreSQL at ${PG_ENV}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const handle = openPostgres(withDatabase(url, template), { poolSize: 1 });
  try {
    await migrate(handle, new ManualClock());
  } finally {
    await handle.close();
  }
  project.provide('pgTemplate', template);
  return async () => {
    await adminQuery(url, `drop database if exists ${template} with (force)`);
  };
}
