/**
 * Runs background jobs (ticket email, SLA timers) claimed from the jobs
 * table. A handler that throws is retried with backoff until the job's
 * attempts run out; handlers must therefore be idempotent or record enough to
 * skip work already done.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/dialect.js';
import { onLocalWake } from '../delivery/wake.js';
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { claimDueJobs, completeJob, failJob, nextJobAt, type ClaimedJob } from './queue.js';
import { Waker } from './waker.js';

export interface JobContext {
  id: string;
  organizationId: string;
  key: string | null;
  /** 1 on the first run. */
  attempt: number;
  /**
   * Aborted when the runner stops (the process shuts down): a long handler
   * stops at its next safe point, and its job is left to run again later.
   */
  signal: AbortSignal;
}

export type JobHandler = (payload: unknown, job: JobContext) => Promise<void>;

export interface JobRunnerOptions {
  /** Jobs run at once in this process. (Default: 4) */
  concurrency?: number;
  /** Lease on a claimed job; a handler must finish well within it. (Default: 120000) */
  leaseMs?: number;
  /** Longest sleep without a wake-up. (Default: 5000) */
  pollIntervalMs?: number;
}

export interface JobRunnerDeps {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  handlers: Readonly<Record<string, JobHandler>>;
}

export class JobRunner {
  readonly id = `jobs:${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly waker = new Waker();
  private stopping = new AbortController();
  private running = false;
  private loopDone: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly deps: JobRunnerDeps,
    opts: JobRunnerOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 4;
    this.leaseMs = opts.leaseMs ?? 120_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 5_000;
  }

  /** Claims what is due now and runs it; resolves when all of it is recorded. */
  async runOnce(): Promise<number> {
    const { db } = this.deps.database;
    const jobs = await claimDueJobs(db, {
      owner: this.id,
      now: this.deps.clock.now(),
      leaseMs: this.leaseMs,
      limit: this.concurrency,
    });
    await Promise.all(jobs.map((job) => this.run(job)));
    return jobs.length;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.stopping.signal.aborted) this.stopping = new AbortController();
    // On PostgreSQL the delivery worker's LISTEN connection relays notifications
    // to this in-process signal: one connection per process serves both loops.
    this.unsubscribe = onLocalWake(() => this.waker.signal());
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping.abort();
    this.waker.signal();
    this.unsubscribe?.();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.waker.reset();
      try {
        const ran = await this.runOnce();
        if (ran === this.concurrency) continue;
        const next = await nextJobAt(this.deps.database.db);
        const wait =
          next === null ? this.pollIntervalMs : Math.max(0, next - this.deps.clock.now());
        // Due but not claimed means another worker holds it: wait for news, not for the clock.
        await this.waker.sleep(
          ran === 0 && wait === 0 ? this.pollIntervalMs : Math.min(wait, this.pollIntervalMs),
        );
      } catch (error) {
        this.deps.logger.error({ err: error }, 'job loop error; retrying shortly');
        await this.waker.sleep(1_000);
      }
    }
  }

  private async run(job: ClaimedJob): Promise<void> {
    const { database, clock, logger } = this.deps;
    const log = logger.child({ jobId: job.id, kind: job.kind, attempt: job.attempt_count + 1 });
    try {
      const handler = this.deps.handlers[job.kind];
      if (!handler) throw new Error(`No handler for job kind "${job.kind}"`);
      await handler(JSON.parse(job.payload) as unknown, {
        id: job.id,
        organizationId: job.organization_id,
        key: job.key,
        attempt: job.attempt_count + 1,
        signal: this.stopping.signal,
      });
      await completeJob(database.db, job.id, this.id, clock.now());
    } catch (error) {
      const err = toError(error);
      try {
        const state = await failJob(database.db, job, this.id, clock.now(), err.message);
        log.warn({ err, state }, 'job failed');
      } catch (recordError) {
        // The lease runs out and the job is claimed again.
        log.error({ err: recordError }, 'could not record a job failure');
      }
    }
  }
}
