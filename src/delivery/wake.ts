/**
 * Waking workers when deliveries commit. In-process, an EventEmitter signal
 * (all a single SQLite process needs: its worker shares the one connection,
 * so its claim runs after the commit). Across processes, where the dialect
 * has LISTEN/NOTIFY, a NOTIFY inside the transaction, which the server
 * delivers only if and when it commits.
 */
import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import { dialectOf } from '../db/registry.js';
import type { Executor } from '../db/schema.js';

export const WAKE_CHANNEL = 'hookdesk_deliveries';

const local = new EventEmitter();
local.setMaxListeners(0);

export async function wakeWorkers(trx: Executor): Promise<void> {
  if (dialectOf(trx).capabilities.listenNotify)
    await sql`select pg_notify(${WAKE_CHANNEL}, '')`.execute(trx);
  local.emit('wake');
}

export function onLocalWake(listener: () => void): () => void {
  local.on('wake', listener);
  return () => local.off('wake', listener);
}
