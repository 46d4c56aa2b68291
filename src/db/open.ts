import { openPostgres } from './postgres/postgres.js';
import { openSqlite } from './sqlite/sqlite.js';
import type { DatabaseHandle, OpenOptions } from './dialect.js';

/** Opens `sqlite:PATH` or `postgres://…` (see `Config.databaseUrl`). */
export function openDatabase(url: string, options: OpenOptions = {}): DatabaseHandle {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options);
  return openPostgres(url);
}
