/**
 * Recovering a time range (docs/api.md, "Recovering a time range"): the
 * webhook is sent again what it missed of its owner's events in
 * `[since, until)`. The request stores a `recoveries` row and enqueues a
 * job in one transaction; the job walks the range in batches, each batch in
 * one transaction that queues its deliveries (delivery/queue/recover.ts)
 * and advances the recovery's cursor and count. A worker killed mid-way
 * leaves the cursor at the last committed batch, and the job, run again
 * once its lease runs out, goes on from there; a batch done twice queues
 * nothing twice anyway.
 *
 * Between batches the job steps aside for `pauseFactor` times as long as the
 * batch took, as the retention pass does (cli/retention.ts): on SQLite the
 * batches share the write lock and the thread with the delivery worker, and
 * a recovery of a large range must not stall every other webhook's
 * deliveries. bench/recover.ts measures it: while a recovery of 10,000
 * events ran (1.3 s on SQLite, 5 s on PostgreSQL, on the 2-core machine),
 * another organization's backlog drained at 90 % and 96 % of its rate just
 * before and after. A run stops after `runBudgetMs`, or when its process
 * shuts down, and leaves the rest to a new job, well within the job
 * runner's lease.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import type { Executor, RecoveriesTable, RecoveryStatus, WebhooksTable } from '../db/schema.js';
import { lockRecoveryWebhook, recoverBatch } from '../delivery/queue/recover.js';
import { AppError, toError } from '../errors.js';
import { newId } from '../ids.js';
import { enqueueJob } from '../jobs/queue.js';
import type { JobContext, JobHandler } from '../jobs/runner.js';
import type { Logger } from '../logger.js';

export const RECOVERY_JOB_KIND = 'webhook.recover';
/** Runs of one recovery job before it gives up, and the recovery with it. */
const JOB_ATTEMPTS = 8;
/** What a recovery that stopped because its webhook was disabled says. */
export const DISABLED_DURING_RECOVERY =
  'The webhook was disabled during the recovery; set it active and recover the range again.';
/** What a recovery whose job ran out of attempts says (the job's log has each error). */
export const RECOVERY_GAVE_UP =
  'The recovery stopped after repeated errors; recover the range again.';

export interface RecoveryLimits {
  /** Events per batch (one transaction). (Default: 500) */
  batchSize: number;
  /** After each batch, a pause this many times as long as the batch took. (Default: 9) */
  pauseFactor: number;
  /** A run hands the rest to a new job after this long. (Default: 30 s) */
  runBudgetMs: number;
}

export const RECOVERY_LIMITS: RecoveryLimits = {
  batchSize: 500,
  pauseFactor: 9,
  runBudgetMs: 30_000,
};

/** Batches per run, whatever the time: a bound on the loop's count beside its time. */
const MAX_BATCHES_PER_RUN = 10_000;

export interface RecoveryDto {
  id: string;
  webhookId: string;
  since: string;
  until: string;
  status: RecoveryStatus;
  deliveriesQueued: number;
  /** Why a `failed` recovery stopped; null otherwise. */
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

export function toRecoveryDto(row: RecoveriesTable): RecoveryDto {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    since: iso(row.since),
    until: iso(row.until),
    status: row.status,
    deliveriesQueued: row.deliveries_queued,
    error: row.error,
    createdAt: iso(row.created_at),
    completedAt: iso(row.completed_at),
  };
}

interface Payload {
  recoveryId: string;
  webhookId: string;
}

/**
 * Stores a running recovery of `[since, until)` for the webhook and enqueues
 * its job, inside the caller's transaction. 409 `webhook_inactive` unless the
 * webhook is active: a disabled webhook would be sent nothing.
 */
export async function startRecovery(
  trx: Executor,
  clock: Clock,
  hook: WebhooksTable,
  range: { since: number; until: number },
): Promise<RecoveriesTable> {
  if (hook.active !== 1) {
    throw new AppError(
      'webhook_inactive',
      'The webhook is not active; set it active before recovering.',
    );
  }
  const now = clock.now();
  const row: RecoveriesTable = {
    id: newId(),
    organization_id: hook.organization_id,
    webhook_id: hook.id,
    since: range.since,
    until: range.until,
    status: 'running',
    deliveries_queued: 0,
    cursor_created_at: null,
    cursor_event_id: null,
    error: null,
    created_at: now,
    updated_at: now,
    completed_at: null,
  };
  await trx.insertInto('recoveries').values(row).execute();
  await enqueueRecoveryJob(trx, now, hook.organization_id, {
    recoveryId: row.id,
    webhookId: hook.id,
  });
  return row;
}

function enqueueRecoveryJob(
  trx: Executor,
  now: number,
  organizationId: string,
  payload: Payload,
): Promise<boolean> {
  return enqueueJob(trx, now, {
    organizationId,
    kind: RECOVERY_JOB_KIND,
    payload,
    runAt: now,
    maxAttempts: JOB_ATTEMPTS,
  });
}

export function findRecovery(
  db: Executor,
  webhookId: string,
  id: string,
): Promise<RecoveriesTable | undefined> {
  return db
    .selectFrom('recoveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Ends a running recovery as `failed` with `error`; a finished one stays as it is. */
async function fail(db: Executor, id: string, now: number, error: string): Promise<void> {
  await db
    .updateTable('recoveries')
    .set({ status: 'failed', error: error.slice(0, 2000), completed_at: now, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .execute();
}

type Step = 'more' | RecoveryStatus | 'gone';

/** One batch in the caller's transaction: its deliveries, the cursor and the count. */
async function step(
  trx: Executor,
  clock: Clock,
  payload: Payload,
  batchSize: number,
): Promise<Step> {
  // First the webhook's lock: runs of this recovery, and other recoveries of
  // the webhook, then read the cursor only once the batch before has committed.
  const webhook = await lockRecoveryWebhook(trx, payload.webhookId);
  if (!webhook) return 'gone'; // deleted, and the recovery with it
  const recovery = await findRecovery(trx, payload.webhookId, payload.recoveryId);
  if (!recovery) return 'gone';
  if (recovery.status !== 'running') return recovery.status;
  const now = clock.now();
  if (!webhook.active) {
    await fail(trx, recovery.id, now, DISABLED_DURING_RECOVERY);
    return 'failed';
  }
  const batch = await recoverBatch(trx, {
    webhook,
    since: recovery.since,
    until: recovery.until,
    after:
      recovery.cursor_created_at === null || recovery.cursor_event_id === null
        ? null
        : { createdAt: recovery.cursor_created_at, eventId: recovery.cursor_event_id },
    batchSize,
    now,
  });
  await trx
    .updateTable('recoveries')
    .set((eb) => ({
      deliveries_queued: eb('deliveries_queued', '+', batch.requeued + batch.created),
      updated_at: now,
      ...(batch.last
        ? { cursor_created_at: batch.last.createdAt, cursor_event_id: batch.last.eventId }
        : {}),
      ...(batch.done ? { status: 'done' as const, completed_at: now } : {}),
    }))
    .where('id', '=', recovery.id)
    .execute();
  return batch.done ? 'done' : 'more';
}

export interface RecoveryDeps {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
}

/** Batches until the range is done, the recovery stopped, or the run's budget is spent. */
async function run(
  deps: RecoveryDeps,
  payload: Payload,
  job: JobContext,
  limits: RecoveryLimits,
): Promise<void> {
  const { db } = deps.database;
  const started = performance.now();
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const batchStarted = performance.now();
    const result = await db
      .transaction()
      .execute((trx) => step(trx, deps.clock, payload, limits.batchSize));
    if (result !== 'more') {
      if (result !== 'gone') {
        deps.logger.info(
          { recoveryId: payload.recoveryId, webhookId: payload.webhookId, status: result },
          'recovery finished',
        );
      }
      return;
    }
    const took = performance.now() - batchStarted;
    if (performance.now() - started + took > limits.runBudgetMs) break;
    // Step aside: other transactions (the delivery worker's) get the lock and
    // the event loop. A shutdown ends the pause at once.
    await sleep(Math.max(1, took * limits.pauseFactor), undefined, { signal: job.signal }).catch(
      () => undefined,
    );
    if (job.signal.aborted) break;
  }
  // The rest goes to a new job, which picks up at the cursor.
  await db
    .transaction()
    .execute((trx) => enqueueRecoveryJob(trx, deps.clock.now(), job.organizationId, payload));
}

/** The recovery job's handler, for the job runner (cli/job-handlers.ts). */
export function recoveryJobHandlers(
  deps: RecoveryDeps,
  limits: Partial<RecoveryLimits> = {},
): Record<string, JobHandler> {
  const all = { ...RECOVERY_LIMITS, ...limits };
  return {
    [RECOVERY_JOB_KIND]: async (input, job) => {
      const payload = input as Payload;
      try {
        await run(deps, payload, job, all);
      } catch (error) {
        // The job is retried with backoff; after its last run, the recovery gives up.
        if (job.attempt >= JOB_ATTEMPTS) {
          await fail(deps.database.db, payload.recoveryId, deps.clock.now(), RECOVERY_GAVE_UP);
        }
        throw toError(error);
      }
    },
  };
}

/** Deletes up to `batchSize` finished recoveries completed before `before`, for the retention pass. */
export async function pruneRecoveries(
  db: Executor,
  before: number,
  batchSize = 1000,
): Promise<number> {
  const result = await db
    .deleteFrom('recoveries')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('recoveries')
        .select('id')
        .where('status', 'in', ['done', 'failed'])
        .where('completed_at', '<', before)
        .limit(batchSize),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
