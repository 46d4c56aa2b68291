/** The delivery queue's gauges for /metrics: its backlog and how late it runs. */
import type { Executor } from '../../db/schema.js';
import { PENDING } from './states.js';

export interface QueueStats {
  pending: number;
  /** Seconds since the oldest due pending delivery became due; 0 when none is due. */
  oldestDueAgeSeconds: number;
}

export async function queueStats(db: Executor, now: number): Promise<QueueStats> {
  const count = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', PENDING)
    .executeTakeFirstOrThrow();
  const oldest = await db
    .selectFrom('deliveries')
    .select('next_attempt_at')
    .where('status', '=', PENDING)
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .limit(1)
    .executeTakeFirst();
  const dueAt = oldest?.next_attempt_at;
  return {
    pending: Number(count.n),
    oldestDueAgeSeconds: typeof dueAt === 'number' ? Math.max(0, (now - dueAt) / 1000) : 0,
  };
}
