import { openPostgres } from './postgres/postgres.js';
import { openSqlite } from './sqlite/sqlite.js';
import type { DatabaseHandle } from './dialect.js';

/** Opens `sqlite:PATH` or `postgres://…` (see `Config.databaseUrl`). */
export function openDatabase(url: string): DatabaseHandle {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  return openPostgres(url);
}
