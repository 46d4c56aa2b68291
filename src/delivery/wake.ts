/**
 * Waking workers when deliveries commit. Where the dialect has LISTEN/NOTIFY,
 * a NOTIFY inside the transaction, which the server delivers to every
 * listening process (this one included) only if and when it commits.
 * Elsewhere (SQLite), an in-process signal: emitted before the commit, but
 * the worker's claim queues behind the transaction on the single connection,
 * so it runs after the commit and sees the rows.
 */
import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import { dialectOf } from '../db/registry.js';
import type { Executor } from '../db/schema.js';

export const WAKE_CHANNEL = 'hookdesk_deliveries';

const local = new EventEmitter();
local.setMaxListeners(0);

export async function wakeWorkers(trx: Executor): Promise<void> {
  if (dialectOf(trx).capabilities.listenNotify) await sql`select ${notifyWorkers()}`.execute(trx);
  local.emit('wake');
}

/**
 * The NOTIFY as an SQL expression (`listenNotify` dialects), for a statement
 * that writes deliveries and wakes workers at once. Call `emitLocalWake` too.
 */
export function notifyWorkers() {
  return sql<string>`pg_notify(${WAKE_CHANNEL}, '')`;
}

/** Wakes every loop of this process (the PostgreSQL listener relays notifications here). */
export function emitLocalWake(): void {
  local.emit('wake');
}

export function onLocalWake(listener: () => void): () => void {
  local.on('wake', listener);
  return () => local.off('wake', listener);
}
