/**
 * Every statement that touches the jobs table. Jobs are claimed like
 * deliveries (src/delivery/queue/claim.ts): one statement, a lease, SKIP
 * LOCKED where the dialect has it, expired leases reclaimed.
 */
import { sql } from 'kysely';
import { earliest, pruneFinishedRows } from '../db/queue-rows.js';
import { dialectOf } from '../db/registry.js';
import type { Executor, JobsTable } from '../db/schema.js';
import { newId } from '../ids.js';
import { wakeWorkers } from '../delivery/wake.js';

export interface NewJob {
  organizationId: string;
  kind: string;
  payload: object;
  /** Epoch ms; due now when omitted. */
  runAt: number;
  /** A job with the same key already present (in any state) makes this a no-op. */
  key?: string;
  /** (Default: 8) */
  maxAttempts?: number;
}

/** Enqueues inside the caller's transaction; returns false when the key already existed. */
export async function enqueueJob(trx: Executor, now: number, job: NewJob): Promise<boolean> {
  const [inserted] = await enqueueJobs(trx, now, [job]);
  return inserted === true;
}

/**
 * Enqueues several jobs in one statement inside the caller's transaction.
 * Returns, in input order, whether each was inserted: false when its key
 * already existed, or was taken by an earlier job of the same call. Workers
 * are woken once if any inserted job is already due.
 */
export async function enqueueJobs(
  trx: Executor,
  now: number,
  jobs: readonly NewJob[],
): Promise<boolean[]> {
  if (jobs.length === 0) return [];
  const rows = jobs.map((job) => ({
    id: newId(),
    organization_id: job.organizationId,
    kind: job.kind,
    key: job.key ?? null,
    payload: JSON.stringify(job.payload),
    status: 'pending' as const,
    attempt_count: 0,
    max_attempts: job.maxAttempts ?? 8,
    run_at: job.runAt,
    lease_owner: null,
    lease_until: null,
    last_error: null,
    created_at: now,
    updated_at: now,
    completed_at: null,
  }));
  const returned = await trx
    .insertInto('jobs')
    .values(rows)
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('id')
    .execute();
  const ids = new Set(returned.map((r) => r.id));
  const inserted = rows.map((r) => ids.has(r.id));
  if (rows.some((r, i) => inserted[i] && r.run_at <= now)) await wakeWorkers(trx);
  return inserted;
}

/**
 * Cancels the pending jobs with these keys (e.g. a ticket's SLA timers for a
 * due time that moved). Their keys are released so the same key can be
 * enqueued again (a timer moved away and back); jobs that ran keep theirs,
 * so they never rerun. Exact keys, not a prefix: the key's unique index
 * finds them, where a prefix match read every pending job.
 */
export async function cancelJobsByKeys(
  trx: Executor,
  keys: readonly string[],
  now: number,
): Promise<number> {
  if (keys.length === 0) return 0;
  const result = await trx
    .updateTable('jobs')
    .set({ status: 'cancelled', key: null, completed_at: now, updated_at: now })
    .where('key', 'in', keys)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export type ClaimedJob = Pick<
  JobsTable,
  'id' | 'organization_id' | 'kind' | 'key' | 'payload' | 'attempt_count' | 'max_attempts'
>;

export async function claimDueJobs(
  db: Executor,
  o: { owner: string; now: number; leaseMs: number; limit: number },
): Promise<ClaimedJob[]> {
  if (o.limit <= 0) return [];
  const lock = dialectOf(db).capabilities.skipLocked ? sql`for update skip locked` : sql``;
  const result = await sql<ClaimedJob>`
    update jobs
    set status = 'running', lease_owner = ${o.owner}, lease_until = ${o.now + o.leaseMs}, updated_at = ${o.now}
    where id in (
      select id from jobs
      where (status = 'pending' and run_at <= ${o.now}) or (status = 'running' and lease_until <= ${o.now})
      order by run_at
      limit ${o.limit}
      ${lock}
    )
    returning id, organization_id, kind, key, payload, attempt_count, max_attempts
  `.execute(db);
  return result.rows;
}

/** Marks a claimed job done; false when this owner no longer held it. */
export async function completeJob(
  db: Executor,
  id: string,
  owner: string,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set((eb) => ({
      status: 'succeeded',
      attempt_count: eb('attempt_count', '+', 1),
      lease_owner: null,
      lease_until: null,
      completed_at: now,
      updated_at: now,
    }))
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Backoff between job attempts: 5 s, 10 s, 20 s … capped at 1 h. */
export function jobBackoffMs(attempt: number): number {
  return Math.min(3_600_000, 5_000 * 2 ** Math.max(0, attempt - 1));
}

/** Records a failed run: retried after a backoff, or `failed` once attempts run out. */
export async function failJob(
  db: Executor,
  job: ClaimedJob,
  owner: string,
  now: number,
  error: string,
): Promise<'pending' | 'failed'> {
  const attempt = job.attempt_count + 1;
  const final = attempt >= job.max_attempts;
  await db
    .updateTable('jobs')
    .set({
      status: final ? 'failed' : 'pending',
      attempt_count: attempt,
      run_at: final ? now : now + jobBackoffMs(attempt),
      lease_owner: null,
      lease_until: null,
      last_error: error.slice(0, 2000),
      completed_at: final ? now : null,
      updated_at: now,
    })
    .where('id', '=', job.id)
    .where('lease_owner', '=', owner)
    .execute();
  return final ? 'failed' : 'pending';
}

/** When the next job becomes claimable, or null. */
export async function nextJobAt(db: Executor): Promise<number | null> {
  const pending = await db
    .selectFrom('jobs')
    .select('run_at')
    .where('status', '=', 'pending')
    .orderBy('run_at')
    .limit(1)
    .executeTakeFirst();
  const lease = await db
    .selectFrom('jobs')
    .select('lease_until')
    .where('status', '=', 'running')
    .orderBy('lease_until')
    .limit(1)
    .executeTakeFirst();
  return earliest(pending?.run_at, lease?.lease_until);
}

/** Deletes finished jobs completed before `before`. */
export function pruneFinishedJobs(db: Executor, before: number, batchSize = 1000): Promise<number> {
  return pruneFinishedRows(db, 'jobs', before, batchSize);
}
