/**
 * Finds the Dialect behind any executor (database handle or transaction), so
 * deep code such as the outbox can ask capability flags without every caller
 * threading the dialect through. Kysely shares one adapter instance between a
 * database and all of its transactions; that instance is the key.
 */
import type { DialectAdapter } from 'kysely';
import type { Dialect } from './dialect.js';
import type { Executor } from './schema.js';

const dialects = new WeakMap<DialectAdapter, Dialect>();

export function registerDialect(db: Executor, dialect: Dialect): void {
  dialects.set(db.getExecutor().adapter, dialect);
}

export function dialectOf(db: Executor): Dialect {
  const dialect = dialects.get(db.getExecutor().adapter);
  if (!dialect) throw new Error('Database handle was not opened through db/open');
  return dialect;
}
