/**
 * Retention (docs/operations.md, "Retention"): finished deliveries older than
 * HOOKDESK_RETENTION_DAYS are deleted with their attempts, and finished jobs
 * (sent ticket email, fired SLA timers) likewise, in small batches so a large
 * backlog never holds the write lock for long. Provider event keys (inbound
 * deduplication) go too, but never before MIN_DEDUPE_DAYS: a provider may still
 * retry until then.
 *
 * Wiring, so it sits beside the CLI: each table's owner (the delivery queue,
 * the job queue, inbound providers) exports its own prune function, and
 * this pass alone knows all three.
 */
import type { Clock } from '../clock.js';
import type { Executor } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { MIN_DEDUPE_DAYS, pruneProviderEvents } from '../inbound/providers/channel.js';
import { pruneFinishedJobs } from '../jobs/queue.js';
import { pruneFinished } from '../delivery/queue/prune.js';

const DAY_MS = 86_400_000;
const BATCH = 1000;
/** Bounds one pass; the next pass continues. */
const MAX_BATCHES_PER_PASS = 100;

export async function pruneOnce(
  db: Executor,
  clock: Clock,
  retentionDays: number,
): Promise<number> {
  const now = clock.now();
  const before = now - retentionDays * DAY_MS;
  const passes = [
    { prune: pruneFinished, before },
    { prune: pruneFinishedJobs, before },
    {
      prune: pruneProviderEvents,
      before: now - Math.max(retentionDays, MIN_DEDUPE_DAYS) * DAY_MS,
    },
  ];
  let total = 0;
  for (const { prune, before } of passes) {
    for (let i = 0; i < MAX_BATCHES_PER_PASS; i++) {
      const n = await prune(db, before, BATCH);
      total += n;
      if (n < BATCH) break;
    }
  }
  return total;
}

/** Prunes now and then every `intervalMs` (default hourly); returns a stop function. */
export function startRetention(
  db: Executor,
  clock: Clock,
  retentionDays: number,
  logger: Logger,
  intervalMs = 3_600_000,
): () => void {
  const run = () => {
    pruneOnce(db, clock, retentionDays).then(
      (n) => n > 0 && logger.info({ pruned: n }, 'pruned finished deliveries, jobs and event keys'),
      (error: unknown) => logger.warn({ err: error }, 'retention pass failed'),
    );
  };
  const first = setTimeout(run, 10_000);
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
