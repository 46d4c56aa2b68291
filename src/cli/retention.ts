/**
 * Retention (docs/operations.md, "Retention"): finished deliveries older than
 * HOOKDESK_RETENTION_DAYS are deleted with their attempts (by cascade), then
 * events older than that which no delivery refers to any more, and finished
 * recoveries and finished jobs (sent ticket email, fired SLA timers)
 * likewise, in small batches so a large backlog never holds the write lock
 * for long. Provider event keys (inbound deduplication) go too, but never
 * before MIN_DEDUPE_DAYS: a provider may still retry until then.
 *
 * Wiring, so it sits beside the CLI: each table's owner (the delivery queue,
 * webhook recoveries, the job queue, inbound providers) exports its own
 * prune function, and this pass alone knows them all.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../clock.js';
import type { Executor } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { MIN_DEDUPE_DAYS, pruneProviderEvents } from '../inbound/providers/channel.js';
import { pruneFinishedJobs } from '../jobs/queue.js';
import { pruneEvents, pruneFinished } from '../delivery/queue/prune.js';
import { pruneRecoveries } from '../webhooks/recover.js';

const DAY_MS = 86_400_000;

export interface RetentionLimits {
  /** Rows per delete statement. (Default: 1000) */
  batchSize: number;
  /** Batches per table in one pass. (Default: 100) */
  maxBatchesPerPass: number;
  /** After each batch, a pause this many times as long as the batch took. (Default: 9) */
  pauseFactor: number;
}

const LIMITS: RetentionLimits = {
  batchSize: 1000,
  maxBatchesPerPass: 100,
  pauseFactor: 9,
};

interface PassResult {
  pruned: number;
  /** Some table filled every batch of the pass: old rows are probably left. */
  more: boolean;
}

async function prunePass(
  db: Executor,
  clock: Clock,
  retentionDays: number,
  limits: RetentionLimits,
  stopped: () => boolean = () => false,
): Promise<PassResult> {
  const now = clock.now();
  const before = now - retentionDays * DAY_MS;
  const passes = [
    { prune: pruneFinished, before },
    // After the deliveries: an event goes only once no delivery refers to it.
    { prune: pruneEvents, before },
    { prune: pruneRecoveries, before },
    { prune: pruneFinishedJobs, before },
    {
      prune: pruneProviderEvents,
      before: now - Math.max(retentionDays, MIN_DEDUPE_DAYS) * DAY_MS,
    },
  ];
  let pruned = 0;
  let more = false;
  for (const { prune, before } of passes) {
    for (let i = 0; ; i++) {
      if (stopped()) return { pruned, more: false };
      if (i === limits.maxBatchesPerPass) {
        more = true;
        break;
      }
      const started = performance.now();
      const n = await prune(db, before, limits.batchSize);
      pruned += n;
      if (n < limits.batchSize) break;
      // Each batch is its own short statement, and after it the pass steps
      // aside for `pauseFactor` times as long as it took: the event loop runs
      // what came in meanwhile and the write lock is free, so pruning takes
      // at most a tenth of the time. On SQLite the statements run on the
      // delivery worker's thread: back to back, pruning 500,000 old rows
      // slowed a drain beside it to a third of its rate (bench figure 9).
      await sleep((performance.now() - started) * limits.pauseFactor);
    }
  }
  return { pruned, more };
}

/** One pass of at most `maxBatchesPerPass` batches per table; returns the rows deleted. */
export async function pruneOnce(
  db: Executor,
  clock: Clock,
  retentionDays: number,
  limits: Partial<RetentionLimits> = {},
): Promise<number> {
  return (await prunePass(db, clock, retentionDays, { ...LIMITS, ...limits })).pruned;
}

export interface RetentionTiming extends RetentionLimits {
  /** From start-up to the first pass. (Default: 10 s) */
  firstDelayMs: number;
  /** Between passes once nothing old is left. (Default: hourly) */
  intervalMs: number;
  /** After a pass that stopped at its bound. (Default: 1 s) */
  continueMs: number;
}

const TIMING: RetentionTiming = {
  ...LIMITS,
  firstDelayMs: 10_000,
  intervalMs: 3_600_000,
  continueMs: 1_000,
};

/**
 * Prunes 10 s after start-up, then hourly; returns a stop function.
 *
 * A pass is bounded (`maxBatchesPerPass`) so that it never runs long. When
 * one stops at its bound, the next follows after `continueMs` rather than
 * the hourly interval, until nothing old is left: a backlog of old rows
 * (retention switched on or shortened on a large database, or a worker
 * that was down) then goes in minutes, where one pass an hour took five
 * hours for 500,000 rows.
 */
export function startRetention(
  db: Executor,
  clock: Clock,
  retentionDays: number,
  logger: Logger,
  timing: Partial<RetentionTiming> = {},
): () => void {
  const t = { ...TIMING, ...timing };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(run, ms);
    timer.unref();
  };
  const run = () => {
    prunePass(db, clock, retentionDays, t, () => stopped).then(
      ({ pruned, more }) => {
        if (pruned > 0)
          logger.info({ pruned, more }, 'pruned finished deliveries, events, jobs and event keys');
        schedule(more ? t.continueMs : t.intervalMs);
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'retention pass failed');
        schedule(t.intervalMs);
      },
    );
  };
  schedule(t.firstDelayMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
